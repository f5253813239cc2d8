/*  nws_utf8 - UTF-8 validation, as RFC 6455 requires of text messages.
    Rejects overlong forms, surrogates and code points above U+10FFFF.  */
#ifndef NWS_UTF8_H
#define NWS_UTF8_H

#include <stddef.h>

/*  Returns 1 if the len bytes at data are well-formed UTF-8, else 0.  */
int nws_utf8_valid (const void *data, size_t len);

/*  For text that arrives in pieces: returns how many bytes from the start
    are complete, well-formed sequences, and sets *bad to 1 if the bytes
    after them can never be (else they are the start of a sequence that
    more bytes may complete).  */
size_t nws_utf8_scan (const void *data, size_t len, int *bad);

#endif
