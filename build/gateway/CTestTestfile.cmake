# CMake generated Testfile for 
# Source directory: /work/main/gateway
# Build directory: /work/main/build/gateway
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
