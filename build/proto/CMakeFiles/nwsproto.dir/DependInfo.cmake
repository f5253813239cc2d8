
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/proto/src/nws_channel.c" "proto/CMakeFiles/nwsproto.dir/src/nws_channel.c.o" "gcc" "proto/CMakeFiles/nwsproto.dir/src/nws_channel.c.o.d"
  "/work/main/proto/src/nws_envelope.c" "proto/CMakeFiles/nwsproto.dir/src/nws_envelope.c.o" "gcc" "proto/CMakeFiles/nwsproto.dir/src/nws_envelope.c.o.d"
  "/work/main/proto/src/nws_hubmsg.c" "proto/CMakeFiles/nwsproto.dir/src/nws_hubmsg.c.o" "gcc" "proto/CMakeFiles/nwsproto.dir/src/nws_hubmsg.c.o.d"
  "/work/main/proto/src/nws_log.c" "proto/CMakeFiles/nwsproto.dir/src/nws_log.c.o" "gcc" "proto/CMakeFiles/nwsproto.dir/src/nws_log.c.o.d"
  "/work/main/proto/src/nws_opts.c" "proto/CMakeFiles/nwsproto.dir/src/nws_opts.c.o" "gcc" "proto/CMakeFiles/nwsproto.dir/src/nws_opts.c.o.d"
  "/work/main/proto/src/nws_runtime.c" "proto/CMakeFiles/nwsproto.dir/src/nws_runtime.c.o" "gcc" "proto/CMakeFiles/nwsproto.dir/src/nws_runtime.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
