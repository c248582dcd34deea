/* perfdata: (being written) */
#ifndef DD_WIRE_PERFDATA_H
#define DD_WIRE_PERFDATA_H
#endif
