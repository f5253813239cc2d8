file(REMOVE_RECURSE
  "libnwsproto.a"
)
