/*  fuzz_advert - DNS-SD adverts found while browsing: instance names
    (nws_advert_instance_valid) and TXT strings (nws_advert_parse_txt),
    and the adverts nws writes itself (nws_advert_instance, nws_advert_txt).

    Input: any bytes: a TXT string as is, and up to its first NUL an
    instance name (avahi hands names over as C strings). Properties:

    - nws_advert_instance_valid agrees with the regular expression of the
      original proxy, ^[0-9]+\..*\._bws( \([0-9]+\))?$, run by POSIX
      regexec, on names of at most one DNS label (63 bytes); longer names
      are refused.
    - nws_advert_private_instance_valid agrees with ^[0-9]{1,10}( \([0-9]+\))?$
      the same way; nws_advert_parse_tag accepts exactly "tag=" and 32
      lowercase hex digits, says -ENOENT exactly when the key is not
      "tag", and nws_advert_private_txt writes an accepted record back.
    - nws_advert_parse_txt accepts exactly "path=/broadcast/<valid name>",
      says -ENOENT exactly when the key is not "path", and an accepted
      record is what nws_advert_txt writes for the channel.
    - for a channel made of input bytes and a nonce from the input, the
      instance name written is valid, fits a label and carries the nonce
      and the start of the name; the TXT string parses back to the channel
      (or the name is too long to advertise, over 239 bytes). Neither
      writer goes past the capacity it is given.
*/
#include <errno.h>
#include <regex.h>

#include "nws_advert.h"
#include "nws_fuzz.h"

static regex_t s_original;          /* the original proxy's instance pattern */
static regex_t s_private;           /* private adverts' instance pattern */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    FUZZ_CHECK (regcomp (&s_original, "^[0-9]+\\..*\\._bws( \\([0-9]+\\))?$",
                         REG_EXTENDED | REG_NOSUB) == 0);
    FUZZ_CHECK (regcomp (&s_private, "^[0-9]{1,10}( \\([0-9]+\\))?$",
                         REG_EXTENDED | REG_NOSUB) == 0);
    return 0;
}

static int
s_ref_name_valid (const char *name, size_t len)
{
    if (len < 1 || len > NWS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

//  "path=/broadcast/<valid name>": 0; another key: -ENOENT; else -EINVAL.
static int
s_ref_parse_txt (const uint8_t *data, size_t size)
{
    static const char key [] = "path=", prefix [] = "path=/broadcast/";
    if (size < 5 || memcmp (data, key, 5) != 0)
        return -ENOENT;
    size_t n = sizeof prefix - 1;
    if (size < n || memcmp (data, prefix, n) != 0)
        return -EINVAL;
    return s_ref_name_valid ((const char *) data + n, size - n) ? 0 : -EINVAL;
}

//  valid agrees with pattern on names of at most one DNS label.
static void
s_check_instance_name (const uint8_t *data, size_t size, const regex_t *pattern,
                       int (*valid) (const char *name))
{
    char *name = fuzz_strdup (data, size);
    int want = strlen (name) <= NWS_ADVERT_LABEL_MAX && regexec (pattern, name, 0, NULL, 0) == 0;
    FUZZ_CHECK (valid (name) == want);
    free (name);
}

//  Private adverts' TXT: "tag=" with exactly 32 lowercase hex digits,
//  written back the same by nws_advert_private_txt.
static void
s_check_tag (const uint8_t *data, size_t size)
{
    uint8_t *record = malloc (size ? size : 1);
    FUZZ_CHECK (record);
    memcpy (record, data, size);
    char tag [NWS_ADVERT_TAG_HEX + 1];
    int rc = nws_advert_parse_tag (record, size, tag);
    free (record);
    int hex = size == 4 + NWS_ADVERT_TAG_HEX;
    for (size_t i = 4; hex && i < size; i++)
        hex = (data [i] >= '0' && data [i] <= '9') || (data [i] >= 'a' && data [i] <= 'f');
    if (size < 4 || memcmp (data, "tag=", 4) != 0)
        FUZZ_CHECK (rc == -ENOENT);
    else
        FUZZ_CHECK (rc == (hex ? 0 : -EINVAL));
    if (rc == 0) {
        char txt [NWS_ADVERT_TXT_MAX + 1];
        FUZZ_CHECK (nws_advert_private_txt (tag, txt, sizeof txt) == (int) size);
        FUZZ_CHECK (memcmp (txt, data, size) == 0);
    }
}

static void
s_check_txt (const uint8_t *data, size_t size)
{
    uint8_t *record = malloc (size ? size : 1);
    FUZZ_CHECK (record);
    memcpy (record, data, size);
    nws_channel_t channel;
    int rc = nws_advert_parse_txt (record, size, &channel);
    free (record);
    int want = s_ref_parse_txt (data, size);
    if (size <= NWS_ADVERT_TXT_MAX)
        FUZZ_CHECK (rc == want);
    else {
        //  Longer than a TXT string can be: refusing it is fine too.
        FUZZ_CHECK (rc == want || (rc == -EINVAL && want == 0));
    }
    if (rc == 0) {
        FUZZ_CHECK (channel.scope == NWS_SCOPE_BROADCAST);
        FUZZ_CHECK (channel.name_len == size - 16 && strlen (channel.name) == channel.name_len);
        char txt [NWS_ADVERT_TXT_MAX + 1];
        int len = nws_advert_txt (&channel, txt, sizeof txt);
        if (channel.name_len <= NWS_ADVERT_TXT_MAX - 16)
            FUZZ_CHECK (len == (int) size && memcmp (txt, data, size) == 0);
        else
            FUZZ_CHECK (len == -ENAMETOOLONG);
    }
}

//  Writes with nws_advert_instance into a heap buffer of exactly cap bytes.
static int
s_instance (uint32_t nonce, const nws_channel_t *channel, size_t cap, char *copy)
{
    char *buf = malloc (cap ? cap : 1);
    FUZZ_CHECK (buf);
    int len = nws_advert_instance (nonce, channel, buf, cap);
    if (len >= 0 && copy)
        memcpy (copy, buf, (size_t) len + 1);
    free (buf);
    return len;
}

static void
s_check_writers (const uint8_t *data, size_t size)
{
    static const char alphabet [] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    if (size < 5)
        return;
    uint32_t nonce = (uint32_t) data [0] << 24 | (uint32_t) data [1] << 16
                   | (uint32_t) data [2] << 8 | data [3];
    nws_channel_t channel = { .scope = NWS_SCOPE_BROADCAST };
    channel.name_len = size - 4 > NWS_NAME_MAX ? NWS_NAME_MAX : size - 4;
    for (size_t i = 0; i < channel.name_len; i++)
        channel.name [i] = alphabet [data [4 + i] % (sizeof alphabet - 1)];
    channel.name [channel.name_len] = '\0';

    char name [NWS_ADVERT_LABEL_MAX + 1];
    int len = s_instance (nonce, &channel, sizeof name, name);
    FUZZ_CHECK (len > 0 && len <= NWS_ADVERT_LABEL_MAX && strlen (name) == (size_t) len);
    FUZZ_CHECK (s_instance (nonce, &channel, (size_t) len, NULL) == -ENOSPC);
    FUZZ_CHECK (s_instance (nonce, &channel, (size_t) len + 1, NULL) == len);
    FUZZ_CHECK (nws_advert_instance_valid (name));
    FUZZ_CHECK (regexec (&s_original, name, 0, NULL, 0) == 0);
    char number [16];
    int digits = snprintf (number, sizeof number, "%u.", (unsigned) nonce);
    FUZZ_CHECK (strncmp (name, number, (size_t) digits) == 0);
    size_t kept = (size_t) len - (size_t) digits - 5;
    FUZZ_CHECK (kept >= 1 && memcmp (name + digits, channel.name, kept) == 0);
    FUZZ_CHECK (kept == channel.name_len || len == NWS_ADVERT_LABEL_MAX);

    char *txt = malloc (NWS_ADVERT_TXT_MAX + 1);
    FUZZ_CHECK (txt);
    len = nws_advert_txt (&channel, txt, NWS_ADVERT_TXT_MAX + 1);
    if (channel.name_len > NWS_ADVERT_TXT_MAX - 16)
        FUZZ_CHECK (len == -ENAMETOOLONG);
    else {
        nws_channel_t back;
        FUZZ_CHECK (len == 16 + (int) channel.name_len);
        FUZZ_CHECK (nws_advert_parse_txt (txt, (size_t) len, &back) == 0);
        FUZZ_CHECK (back.name_len == channel.name_len
                    && memcmp (back.name, channel.name, channel.name_len) == 0);
        FUZZ_CHECK (nws_advert_txt (&channel, txt, (size_t) len) == -ENAMETOOLONG);
    }
    free (txt);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_check_instance_name (data, size, &s_original, nws_advert_instance_valid);
    s_check_instance_name (data, size, &s_private, nws_advert_private_instance_valid);
    s_check_txt (data, size);
    s_check_tag (data, size);
    s_check_writers (data, size);
    return 0;
}
