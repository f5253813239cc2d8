# Empty dependencies file for nws-hub.
# This may be replaced when dependencies are built.
