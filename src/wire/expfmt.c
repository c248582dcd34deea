/* expfmt: (being written) */
#include "expfmt.h"
