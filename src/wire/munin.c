/* munin: (being written) */
#include "munin.h"
