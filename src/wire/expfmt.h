/* expfmt: (being written) */
#ifndef DD_WIRE_EXPFMT_H
#define DD_WIRE_EXPFMT_H
#endif
