# Empty dependencies file for nwsgateway.
# This may be replaced when dependencies are built.
