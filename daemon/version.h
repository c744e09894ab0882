#ifndef ELIGD_VERSION_H
#define ELIGD_VERSION_H
#include "elig.h"
#define ELIGD_VERSION ELIG_VERSION_STRING
#endif
