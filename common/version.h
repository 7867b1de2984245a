/* version.h - the one place the release number lives. */
#ifndef DERELICT_VERSION_H
#define DERELICT_VERSION_H

#define DERELICT_VERSION "0.5.4"

#endif
