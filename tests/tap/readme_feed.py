import zmq                                                  # Debian: python3-zmq
pub = zmq.Context().socket(zmq.XPUB); pub.connect("ipc:///run/nws/hub-in")
pub.recv()                                   # the hub's subscription: it listens now
pub.send_multipart([b"local/chat/", "hello from zmq".encode()])
pub.close(linger=1000)                       # let the message leave before exiting
