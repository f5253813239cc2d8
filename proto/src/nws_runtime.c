/*  nws_runtime - the runtime directory shared by the hub and its clients.  */
#include "nws_runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
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
