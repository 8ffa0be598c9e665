package main

import (
	"fmt"
	"net"
	"strconv"
)

// contactAddr is the address the PBX should send NOTIFYs to: the SIP
// listener's own host when it names one, else the local address this host
// uses to reach the PBX (no packet is sent to find it).
func contactAddr(listen, pbx string) (string, int, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, err
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return host, p, nil
	}
	c, err := net.Dial("udp", pbx)
	if err != nil {
		return "", 0, fmt.Errorf("find local address towards pbx %s: %w", pbx, err)
	}
	defer c.Close()
	h, _, _ := net.SplitHostPort(c.LocalAddr().String())
	return h, p, nil
}
