// Command floor is the least a Go program can do for a SIP request over
// UDP: one goroutine reads a datagram, copies the headers a response must
// echo (Via, From, To with a tag, Call-ID, CSeq) into a 200 OK and sends
// it. No parser, no transaction, no state, no other goroutine. floor.sh
// runs it on the REGISTER load of compare.sh beside Kamailio: its CPU per
// operation is a floor under any Go server's, Switchboard's included,
// whatever that server's own code costs.
//
//	floor HOST:PORT
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
)

var echoed = [][]byte{[]byte("Via:"), []byte("From:"), []byte("To:"), []byte("Call-ID:"), []byte("CSeq:")}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor HOST:PORT")
		os.Exit(2)
	}
	pc, err := net.ListenPacket("udp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c := pc.(*net.UDPConn)
	buf := make([]byte, 65535)
	out := make([]byte, 0, 4096)
	for {
		n, addr, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out = append(out[:0], "SIP/2.0 200 OK\r\n"...)
		for line := range bytes.SplitSeq(buf[:n], []byte("\r\n")) {
			for _, h := range echoed {
				if bytes.HasPrefix(line, h) {
					out = append(out, line...)
					if h[0] == 'T' {
						out = append(out, ";tag=floor"...)
					}
					out = append(out, "\r\n"...)
				}
			}
		}
		out = append(out, "Content-Length: 0\r\n\r\n"...)
		if _, err := c.WriteToUDPAddrPort(out, addr); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}
