file(REMOVE_RECURSE
  "CMakeFiles/nws-gateway.dir/main.c.o"
  "CMakeFiles/nws-gateway.dir/main.c.o.d"
  "nws-gateway"
  "nws-gateway.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/nws-gateway.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
