/*  nws_utf8 - UTF-8 validation, as RFC 6455 requires of text messages.
    Rejects overlong forms, surrogates and code points above U+10FFFF.  */
#ifndef NWS_UTF8_H
#define NWS_UTF8_H

#include <stddef.h>

/*  Returns 1 if the len bytes at data are well-formed UTF-8, else 0.  */
int nws_utf8_valid (const void *data, size_t len);

#endif
