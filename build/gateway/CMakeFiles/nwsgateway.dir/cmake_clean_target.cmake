file(REMOVE_RECURSE
  "libnwsgateway.a"
)
