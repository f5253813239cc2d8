# Empty dependencies file for nws-gateway.
# This may be replaced when dependencies are built.
