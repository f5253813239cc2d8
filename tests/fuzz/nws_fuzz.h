/*  nws_fuzz - what the libFuzzer targets share.

    A target checks properties of the decoder it feeds, not only that it
    does not crash: FUZZ_CHECK aborts with file:line and the failed
    condition, and libFuzzer then saves the input as a crash artifact
    (see run.sh). Plain code, not assert(): it holds under NDEBUG.

    Buffers a decoder writes into are allocated with the exact capacity
    it is told, so that AddressSanitizer sees a single byte too many.
*/
#ifndef NWS_FUZZ_H
#define NWS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
        abort (); \
    } \
} while (0)

//  A NUL-terminated heap copy of the first len bytes at data (which may
//  hold NULs of their own: C-string decoders then see the part before).
static inline char *
fuzz_strdup (const uint8_t *data, size_t len)
{
    char *s = malloc (len + 1);
    if (!s)
        abort ();
    memcpy (s, data, len);
    s [len] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

#endif
