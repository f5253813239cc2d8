file(REMOVE_RECURSE
  "CMakeFiles/nws-hub.dir/main.c.o"
  "CMakeFiles/nws-hub.dir/main.c.o.d"
  "nws-hub"
  "nws-hub.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/nws-hub.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
