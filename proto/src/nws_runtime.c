/*  nws_runtime - the runtime directory shared by the hub and its clients.  */
#include "nws_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int
s_print (char *buf, size_t cap, const char *format, const char *a, unsigned b)
{
    int n = snprintf (buf, cap, format, a, b);
    return n < 0 || (size_t) n >= cap ? -ENOSPC : 0;
}

int
nws_runtime_default_dir (char *buf, size_t cap)
{
    const char *env = getenv ("NWS_RUNTIME_DIR");
    if (env && *env)
        return s_print (buf, cap, "%s", env, 0);
    if (geteuid () == 0)
        return s_print (buf, cap, "%s", "/run/nws", 0);
    env = getenv ("XDG_RUNTIME_DIR");
    if (env && *env)
        return s_print (buf, cap, "%s/nws", env, 0);
    return s_print (buf, cap, "%s%u", "/tmp/nws-", (unsigned) geteuid ());
}

int
nws_runtime_endpoint (const char *dir, const char *name, char *buf, size_t cap)
{
    struct sockaddr_un addr;
    int n = snprintf (buf, cap, "ipc://%s/%s", dir, name);
    if (n < 0 || (size_t) n >= cap || (size_t) n - 6 >= sizeof addr.sun_path)
        return -ENAMETOOLONG;
    return 0;
}

int
nws_runtime_prepare (const char *dir)
{
    char path [256];
    size_t len = strlen (dir);
    if (len == 0 || len >= sizeof path)
        return -ENAMETOOLONG;
    memcpy (path, dir, len + 1);
    //  "dir/" is "dir": without this the last component would be made as
    //  a parent (0755) and the final mkdir would only see EEXIST.
    while (len > 1 && path [len - 1] == '/')
        path [--len] = '\0';
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir (path, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir (path, 0700) < 0 && errno != EEXIST)
        return -errno;
    //  What exists must be our own directory, closed to others: in a shared
    //  place like /tmp another user could otherwise have made it first and
    //  own the hub's sockets.
    struct stat st;
    if (lstat (path, &st) < 0)
        return -errno;
    if (!S_ISDIR (st.st_mode))
        return -ENOTDIR;
    if (st.st_uid != geteuid () || (st.st_mode & 022))
        return -EPERM;
    return 0;
}

int
nws_runtime_proxy_id_valid (const char *text)
{
    for (int i = 0; i < NWS_PROXY_ID_LEN; i++)
        if (!((text [i] >= '0' && text [i] <= '9') || (text [i] >= 'a' && text [i] <= 'f')))
            return 0;
    return text [NWS_PROXY_ID_LEN] == '\0';
}

//  Reads an existing id. Returns 0, -ENOENT, or -EINVAL for a bad file.
static int
s_proxy_id_read (const char *path, char *buf)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    char text [NWS_PROXY_ID_LEN + 2];
    ssize_t n = read (fd, text, sizeof text);
    close (fd);
    //  The id, optionally followed by a newline.
    if (n == NWS_PROXY_ID_LEN + 1 && text [NWS_PROXY_ID_LEN] == '\n')
        n--;
    if (n != NWS_PROXY_ID_LEN)
        return -EINVAL;
    text [NWS_PROXY_ID_LEN] = '\0';
    if (!nws_runtime_proxy_id_valid (text))
        return -EINVAL;
    memcpy (buf, text, NWS_PROXY_ID_LEN + 1);
    return 0;
}

int
nws_runtime_proxy_id (const char *dir, char *buf, size_t cap)
{
    char path [300], temp [320];
    if (cap <= NWS_PROXY_ID_LEN)
        return -ENOSPC;
    int n = snprintf (path, sizeof path, "%s/proxy-id", dir);
    if (n < 0 || (size_t) n >= sizeof path)
        return -ENAMETOOLONG;
    int rc = s_proxy_id_read (path, buf);
    if (rc != -ENOENT && rc != -EINVAL)
        return rc;
    int prepared = nws_runtime_prepare (dir);
    if (prepared < 0)
        return prepared;
    uint64_t value = 0;
    if (getrandom (&value, sizeof value, 0) != sizeof value)
        return -EIO;
    char text [NWS_PROXY_ID_LEN + 2];
    snprintf (text, sizeof text, "%016" PRIx64 "\n", value);
    snprintf (temp, sizeof temp, "%s.%d", path, (int) getpid ());
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    int ok = write (fd, text, NWS_PROXY_ID_LEN + 1) == NWS_PROXY_ID_LEN + 1;
    ok &= close (fd) == 0;
    //  link() fails if another process made the file first: its id wins.
    //  A file that is not a valid id is replaced.
    if (ok && rc == -ENOENT && link (temp, path) < 0 && errno != EEXIST)
        ok = 0;
    if (ok && rc == -EINVAL && rename (temp, path) < 0)
        ok = 0;
    unlink (temp);
    if (!ok)
        return -EIO;
    return s_proxy_id_read (path, buf);
}

uint32_t
nws_runtime_random_id (void)
{
    uint32_t id = 0;
    while (id == 0)
        if (getrandom (&id, sizeof id, 0) != sizeof id) {
            struct timespec now;
            clock_gettime (CLOCK_MONOTONIC, &now);
            id = (uint32_t) now.tv_nsec ^ (uint32_t) getpid () << 16;
        }
    return id;
}
