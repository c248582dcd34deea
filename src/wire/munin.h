/* munin: (being written) */
#ifndef DD_WIRE_MUNIN_H
#define DD_WIRE_MUNIN_H
#endif
