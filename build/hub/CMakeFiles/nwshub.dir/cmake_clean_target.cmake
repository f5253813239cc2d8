file(REMOVE_RECURSE
  "libnwshub.a"
)
