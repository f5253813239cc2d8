import zmq                                                  # Debian: python3-zmq
sub = zmq.Context().socket(zmq.SUB); sub.connect("ipc:///run/nws/hub-out")
sub.setsockopt(zmq.SUBSCRIBE, b"local/chat/")               # b"" for every channel
for topic, header, payload in iter(sub.recv_multipart, None):
    if not header[2] & 2: print(topic.decode(), "text" if header[1] == 1 else "binary", payload, flush=True)
