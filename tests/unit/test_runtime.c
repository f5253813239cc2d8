/*  Unit tests of nws_runtime: the default directory, endpoints, and
    creating the directory. Every case works under one mkdtemp directory,
    which main removes at the end whatever happened.  */
#define _XOPEN_SOURCE 700
#include "nws_runtime.h"
#include "nws_unit.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/un.h>

static char s_base [64];            /* the mkdtemp directory of this run */

//  base + "/" + rest, in a static buffer per call site's needs.
static void
s_path (char *buf, size_t cap, const char *rest)
{
    int n = snprintf (buf, cap, "%s/%s", s_base, rest);
    CHECK (n > 0 && (size_t) n < cap);
}

static int
s_is_dir (const char *path, mode_t *mode)
{
    struct stat st;
    if (stat (path, &st) < 0 || !S_ISDIR (st.st_mode))
        return 0;
    if (mode)
        *mode = st.st_mode & 07777;
    return 1;
}

//  The default is $NWS_RUNTIME_DIR when set and not empty.
static void
default_dir_env (void)
{
    char buf [NWS_ENDPOINT_MAX];
    CHECK_INT (setenv ("NWS_RUNTIME_DIR", "/some/where", 1), 0);
    memset (buf, 0, sizeof buf);
    CHECK_INT (nws_runtime_default_dir (buf, sizeof buf), 0);
    CHECK_STR (buf, "/some/where");

    //  exactly fits, one short
    CHECK_INT (nws_runtime_default_dir (buf, 12), 0);
    CHECK_STR (buf, "/some/where");
    CHECK_INT (nws_runtime_default_dir (buf, 11), -ENOSPC);
    CHECK_INT (nws_runtime_default_dir (buf, 1), -ENOSPC);
}

//  Without $NWS_RUNTIME_DIR: /run/nws for root, else $XDG_RUNTIME_DIR/nws,
//  else /tmp/nws-<uid>. Only the branch for this test's euid can be run.
static void
default_dir_fallback (void)
{
    char buf [NWS_ENDPOINT_MAX], want [NWS_ENDPOINT_MAX];
    CHECK_INT (setenv ("NWS_RUNTIME_DIR", "", 1), 0);    //  empty: ignored
    CHECK_INT (setenv ("XDG_RUNTIME_DIR", "/xdg", 1), 0);
    CHECK_INT (nws_runtime_default_dir (buf, sizeof buf), 0);
    CHECK_STR (buf, geteuid () == 0 ? "/run/nws" : "/xdg/nws");

    CHECK_INT (unsetenv ("NWS_RUNTIME_DIR"), 0);
    CHECK_INT (unsetenv ("XDG_RUNTIME_DIR"), 0);
    CHECK_INT (nws_runtime_default_dir (buf, sizeof buf), 0);
    if (geteuid () == 0)
        snprintf (want, sizeof want, "/run/nws");
    else
        snprintf (want, sizeof want, "/tmp/nws-%u", (unsigned) geteuid ());
    CHECK_STR (buf, want);
    CHECK_INT (nws_runtime_default_dir (buf, 4), -ENOSPC);
}

static void
endpoint_ok (void)
{
    char buf [NWS_ENDPOINT_MAX];
    CHECK_INT (nws_runtime_endpoint ("/run/nws", "hub-in", buf, sizeof buf), 0);
    CHECK_STR (buf, "ipc:///run/nws/hub-in");
    CHECK_INT (nws_runtime_endpoint ("/tmp/nws-1000", "hub-out", buf, sizeof buf), 0);
    CHECK_STR (buf, "ipc:///tmp/nws-1000/hub-out");
}

//  The socket path (after "ipc://") must fit sun_path with its NUL.
static void
endpoint_too_long (void)
{
    struct sockaddr_un addr;
    const size_t max_path = sizeof addr.sun_path - 1;   //  107 on Linux
    char dir [256], buf [NWS_ENDPOINT_MAX];

    //  dir + "/hub" of exactly max_path bytes fits
    size_t dlen = max_path - strlen ("/hub");
    memset (dir, 'd', dlen);
    dir [0] = '/';
    dir [dlen] = '\0';
    CHECK_INT (nws_runtime_endpoint (dir, "hub", buf, sizeof buf), 0);
    CHECK_INT (strlen (buf), strlen ("ipc://") + max_path);
    CHECK (strncmp (buf, "ipc:///ddd", 10) == 0);

    //  one more byte does not
    CHECK_INT (nws_runtime_endpoint (dir, "hub1", buf, sizeof buf), -ENAMETOOLONG);
    dir [dlen] = 'd';
    dir [dlen + 1] = '\0';
    CHECK_INT (nws_runtime_endpoint (dir, "hub", buf, sizeof buf), -ENAMETOOLONG);

    //  nor does anything longer than buf, and buf is not overrun
    memset (dir, 'd', 200);
    dir [0] = '/';
    dir [200] = '\0';
    char big [NWS_ENDPOINT_MAX + 8];
    memset (big, '#', sizeof big);
    CHECK_INT (nws_runtime_endpoint (dir, "hub-in", big, NWS_ENDPOINT_MAX), -ENAMETOOLONG);
    for (size_t i = NWS_ENDPOINT_MAX; i < sizeof big; i++)
        CHECK_INT (big [i], '#');
}

//  A cap too small for the text is refused too, whatever the path length.
static void
endpoint_small_buffer (void)
{
    char buf [32];
    memset (buf, '#', sizeof buf);
    CHECK_INT (nws_runtime_endpoint ("/run/nws", "hub-in", buf, 10), -ENAMETOOLONG);
    for (size_t i = 10; i < sizeof buf; i++)
        CHECK_INT (buf [i], '#');
    //  "ipc:///run/nws/hub-in" is 21 bytes: 22 fit with the NUL, 21 do not
    CHECK_INT (nws_runtime_endpoint ("/run/nws", "hub-in", buf, 22), 0);
    CHECK_STR (buf, "ipc:///run/nws/hub-in");
    CHECK_INT (nws_runtime_endpoint ("/run/nws", "hub-in", buf, 21), -ENAMETOOLONG);
}

//  Creates missing parents and the directory itself (0700), is idempotent,
//  and makes nothing else: removing exactly what it made empties the base.
static void
prepare_nested (void)
{
    char a [128], b [128], c [128];
    mode_t mode;
    s_path (a, sizeof a, "nested");
    s_path (b, sizeof b, "nested/b");
    s_path (c, sizeof c, "nested/b/c");
    umask (022);
    CHECK (!s_is_dir (a, NULL));
    CHECK_INT (nws_runtime_prepare (c), 0);
    CHECK (s_is_dir (a, NULL));
    CHECK (s_is_dir (b, NULL));
    CHECK (s_is_dir (c, &mode));
    CHECK_INT (mode, 0700);
    CHECK_INT (nws_runtime_prepare (c), 0);     //  already there
    CHECK_INT (nws_runtime_prepare (b), 0);

    CHECK_INT (rmdir (c), 0);
    CHECK_INT (rmdir (b), 0);
    CHECK_INT (rmdir (a), 0);
    CHECK (!s_is_dir (a, NULL));
}

//  The mode is 0700 whatever the umask lets through.
static void
prepare_mode_umask_zero (void)
{
    char dir [128];
    mode_t mode;
    s_path (dir, sizeof dir, "open-umask");
    umask (0);
    CHECK_INT (nws_runtime_prepare (dir), 0);
    CHECK (s_is_dir (dir, &mode));
    CHECK_INT (mode, 0700);
    CHECK_INT (rmdir (dir), 0);
}

//  "dir/" names the same directory as "dir", and gets the same mode.
static void
prepare_trailing_slash (void)
{
    char dir [128], slash [128];
    mode_t mode;
    s_path (dir, sizeof dir, "trailing");
    s_path (slash, sizeof slash, "trailing/");
    umask (022);
    CHECK_INT (nws_runtime_prepare (slash), 0);
    CHECK (s_is_dir (dir, &mode));
    CHECK_INT (mode, 0700);
    CHECK_INT (rmdir (dir), 0);
}

//  A relative path is created relative to the working directory.
static void
prepare_relative (void)
{
    char cwd [256];
    CHECK (getcwd (cwd, sizeof cwd));
    CHECK_INT (chdir (s_base), 0);
    CHECK_INT (nws_runtime_prepare ("rel/x"), 0);
    CHECK (s_is_dir ("rel/x", NULL));
    CHECK_INT (rmdir ("rel/x"), 0);
    CHECK_INT (rmdir ("rel"), 0);
    CHECK_INT (chdir (cwd), 0);
}

//  An existing file where the directory should be is an error, not success.
static void
prepare_file_in_the_way (void)
{
    char file [128], below [128];
    s_path (file, sizeof file, "plain-file");
    s_path (below, sizeof below, "plain-file/sub");
    int fd = open (file, O_CREAT | O_WRONLY | O_EXCL, 0600);
    CHECK (fd >= 0);
    close (fd);
    CHECK_INT (nws_runtime_prepare (below), -ENOTDIR);     //  as a parent
    CHECK_INT (nws_runtime_prepare (file), -ENOTDIR);      //  as the directory itself
    CHECK_INT (unlink (file), 0);
}

static void
prepare_bad_length (void)
{
    char dir [512];
    CHECK (nws_runtime_prepare ("") < 0);
    s_path (dir, sizeof dir, "");
    memset (dir + strlen (dir), 'x', 300);
    dir [strlen (s_base) + 1 + 300] = '\0';
    CHECK_INT (nws_runtime_prepare (dir), -ENAMETOOLONG);
}

//  The proxy id is made once, with the directory, and read back the same
//  by every later call; a damaged file is replaced, a valid one kept.
static void
proxy_id_created_and_kept (void)
{
    char dir [128], file [160], first [NWS_PROXY_ID_LEN + 1], again [NWS_PROXY_ID_LEN + 1];
    s_path (dir, sizeof dir, "ids/sub");
    CHECK_INT (nws_runtime_proxy_id (dir, first, sizeof first), 0);
    CHECK (nws_runtime_proxy_id_valid (first));
    CHECK_INT (nws_runtime_proxy_id (dir, again, sizeof again), 0);
    CHECK_STR (again, first);
    CHECK_INT (nws_runtime_proxy_id (dir, again, NWS_PROXY_ID_LEN), -ENOSPC);

    //  Damaged: replaced by a new valid id.
    snprintf (file, sizeof file, "%s/proxy-id", dir);
    int fd = open (file, O_WRONLY | O_TRUNC);
    CHECK (fd >= 0);
    CHECK_INT ((int) write (fd, "NOT-HEX-AT-ALL!!\n", 17), 17);
    close (fd);
    CHECK_INT (nws_runtime_proxy_id (dir, again, sizeof again), 0);
    CHECK (nws_runtime_proxy_id_valid (again));

    //  Written by someone else (no newline): taken as it is.
    fd = open (file, O_WRONLY | O_TRUNC);
    CHECK (fd >= 0);
    CHECK_INT ((int) write (fd, "0123456789abcdef", 16), 16);
    close (fd);
    CHECK_INT (nws_runtime_proxy_id (dir, again, sizeof again), 0);
    CHECK_STR (again, "0123456789abcdef");

    CHECK_INT (unlink (file), 0);
    CHECK_INT (rmdir (dir), 0);
    s_path (dir, sizeof dir, "ids");
    CHECK_INT (rmdir (dir), 0);
}

static void
proxy_id_valid (void)
{
    CHECK (nws_runtime_proxy_id_valid ("0123456789abcdef"));
    CHECK (!nws_runtime_proxy_id_valid ("0123456789ABCDEF"));     //  lowercase only
    CHECK (!nws_runtime_proxy_id_valid ("0123456789abcde"));      //  short
    CHECK (!nws_runtime_proxy_id_valid ("0123456789abcdef0"));    //  long
    CHECK (!nws_runtime_proxy_id_valid ("0123456789abcdeg"));
    CHECK (!nws_runtime_proxy_id_valid (""));
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (default_dir_env),
        NWS_UNIT_CASE (default_dir_fallback),
        NWS_UNIT_CASE (endpoint_ok),
        NWS_UNIT_CASE (endpoint_too_long),
        NWS_UNIT_CASE (endpoint_small_buffer),
        NWS_UNIT_CASE (prepare_nested),
        NWS_UNIT_CASE (prepare_mode_umask_zero),
        NWS_UNIT_CASE (prepare_trailing_slash),
        NWS_UNIT_CASE (prepare_relative),
        NWS_UNIT_CASE (prepare_file_in_the_way),
        NWS_UNIT_CASE (prepare_bad_length),
        NWS_UNIT_CASE (proxy_id_created_and_kept),
        NWS_UNIT_CASE (proxy_id_valid),
        { NULL, NULL }
    };
    return nws_unit_run_in_dir (cases, argc, argv, s_base, sizeof s_base);
}
