
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/gateway/nws_frame.c" "gateway/CMakeFiles/nwsgateway.dir/nws_frame.c.o" "gcc" "gateway/CMakeFiles/nwsgateway.dir/nws_frame.c.o.d"
  "/work/main/gateway/nws_gateway.c" "gateway/CMakeFiles/nwsgateway.dir/nws_gateway.c.o" "gcc" "gateway/CMakeFiles/nwsgateway.dir/nws_gateway.c.o.d"
  "/work/main/gateway/nws_http.c" "gateway/CMakeFiles/nwsgateway.dir/nws_http.c.o" "gcc" "gateway/CMakeFiles/nwsgateway.dir/nws_http.c.o.d"
  "/work/main/gateway/nws_hublink.c" "gateway/CMakeFiles/nwsgateway.dir/nws_hublink.c.o" "gcc" "gateway/CMakeFiles/nwsgateway.dir/nws_hublink.c.o.d"
  "/work/main/gateway/nws_listener.c" "gateway/CMakeFiles/nwsgateway.dir/nws_listener.c.o" "gcc" "gateway/CMakeFiles/nwsgateway.dir/nws_listener.c.o.d"
  "/work/main/gateway/nws_room.c" "gateway/CMakeFiles/nwsgateway.dir/nws_room.c.o" "gcc" "gateway/CMakeFiles/nwsgateway.dir/nws_room.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/proto/CMakeFiles/nwsproto.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
