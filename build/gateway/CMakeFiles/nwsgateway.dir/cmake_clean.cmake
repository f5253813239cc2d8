file(REMOVE_RECURSE
  "CMakeFiles/nwsgateway.dir/nws_frame.c.o"
  "CMakeFiles/nwsgateway.dir/nws_frame.c.o.d"
  "CMakeFiles/nwsgateway.dir/nws_gateway.c.o"
  "CMakeFiles/nwsgateway.dir/nws_gateway.c.o.d"
  "CMakeFiles/nwsgateway.dir/nws_http.c.o"
  "CMakeFiles/nwsgateway.dir/nws_http.c.o.d"
  "CMakeFiles/nwsgateway.dir/nws_hublink.c.o"
  "CMakeFiles/nwsgateway.dir/nws_hublink.c.o.d"
  "CMakeFiles/nwsgateway.dir/nws_listener.c.o"
  "CMakeFiles/nwsgateway.dir/nws_listener.c.o.d"
  "CMakeFiles/nwsgateway.dir/nws_room.c.o"
  "CMakeFiles/nwsgateway.dir/nws_room.c.o.d"
  "libnwsgateway.a"
  "libnwsgateway.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/nwsgateway.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
