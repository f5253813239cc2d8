file(REMOVE_RECURSE
  "CMakeFiles/nwsproto.dir/src/nws_channel.c.o"
  "CMakeFiles/nwsproto.dir/src/nws_channel.c.o.d"
  "CMakeFiles/nwsproto.dir/src/nws_envelope.c.o"
  "CMakeFiles/nwsproto.dir/src/nws_envelope.c.o.d"
  "CMakeFiles/nwsproto.dir/src/nws_hubmsg.c.o"
  "CMakeFiles/nwsproto.dir/src/nws_hubmsg.c.o.d"
  "CMakeFiles/nwsproto.dir/src/nws_log.c.o"
  "CMakeFiles/nwsproto.dir/src/nws_log.c.o.d"
  "CMakeFiles/nwsproto.dir/src/nws_opts.c.o"
  "CMakeFiles/nwsproto.dir/src/nws_opts.c.o.d"
  "CMakeFiles/nwsproto.dir/src/nws_runtime.c.o"
  "CMakeFiles/nwsproto.dir/src/nws_runtime.c.o.d"
  "libnwsproto.a"
  "libnwsproto.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/nwsproto.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
