file(REMOVE_RECURSE
  "CMakeFiles/nwshub.dir/nws_hub.c.o"
  "CMakeFiles/nwshub.dir/nws_hub.c.o.d"
  "libnwshub.a"
  "libnwshub.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/nwshub.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
