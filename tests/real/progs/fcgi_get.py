"""fcgi_get.py HOST PORT SCRIPT [QUERY]: one FastCGI GET request (what a web
server sends php-fpm), printing the response (headers and body) to stdout.
Exit status 1 when the connection fails or ends without END_REQUEST."""
import socket
import struct
import sys

host, port, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
query = sys.argv[4] if len(sys.argv) > 4 else ""


def record(kind, content, req=1):
    return struct.pack(">BBHHBx", 1, kind, req, len(content), 0) + content


def pair(k, v):
    k, v = k.encode(), v.encode()
    enc = lambda n: bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return enc(len(k)) + enc(len(v)) + k + v


params = {"SCRIPT_FILENAME": script, "SCRIPT_NAME": "/" + script.rsplit("/", 1)[-1],
          "REQUEST_METHOD": "GET", "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
          "GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost",
          "SERVER_PORT": "80", "REQUEST_URI": "/" + script.rsplit("/", 1)[-1]}
body = b"".join(pair(k, v) for k, v in params.items())
try:
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, body) + record(4, b"") + record(5, b""))
    out, buf, done = b"", b"", False
    while not done:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            _, kind, _, clen, plen = struct.unpack(">BBHHB", buf[:7])
            if len(buf) < 8 + clen + plen:
                break
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if kind == 6:
                out += content
            elif kind == 3:
                done = True
except OSError as e:
    print(f"fcgi_get: {e}", file=sys.stderr)
    sys.exit(1)
sys.stdout.buffer.write(out)
sys.exit(0 if done else 1)
