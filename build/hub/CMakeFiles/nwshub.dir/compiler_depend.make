# Empty compiler generated dependencies file for nwshub.
# This may be replaced when dependencies are built.
