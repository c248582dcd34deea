/* perfdata: (being written) */
#include "perfdata.h"
