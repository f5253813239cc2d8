# Empty compiler generated dependencies file for nwsproto.
# This may be replaced when dependencies are built.
