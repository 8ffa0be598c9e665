package sip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// rawSender writes datagrams with sendto(2) on a duplicate of our UDP
// listener's descriptor. Go's net package takes a socket's write lock for
// every write and puts a writer to sleep while another holds it; a
// datagram is sent whole by the kernel and needs no such order, but with
// the lock a fan-out's senders took turns and woke each other, and a
// PUBLISH's 200 waited behind the NOTIFYs it caused (a trace: the handler
// parked in poll.fdMutex.rwlock, then sat in a busy P's runnext ~10 ms).
// A write the socket cannot take at once (EAGAIN) is left to the caller's
// net.Conn, which waits for it properly.
type rawSender struct {
	mu     sync.RWMutex // held shared by senders, exclusively by close
	fd     int
	v6     bool // the socket is AF_INET6 (IPv4 peers as mapped addresses)
	closed bool
}

// newRawSender duplicates pc's descriptor; nil if pc is not a UDP socket
// of the system's (a test's fake).
func newRawSender(pc net.PacketConn) (*rawSender, error) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a system socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw udp sender: %w", err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = syscall.Dup(int(s))
		if dupErr == nil {
			syscall.CloseOnExec(fd)
		}
	}); err != nil {
		return nil, fmt.Errorf("raw udp sender: %w", err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("raw udp sender: dup: %w", dupErr)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("raw udp sender: getsockname: %w", err)
	}
	_, v6 := sa.(*syscall.SockaddrInet6)
	return &rawSender{fd: fd, v6: v6}, nil
}

// errRawClosed: the sender is closed; the caller's net.Conn decides.
var errRawClosed = errors.New("raw udp sender closed")

// send writes b to to in one datagram.
func (r *rawSender) send(b []byte, to netip.AddrPort) error {
	var sa syscall.Sockaddr
	ip := to.Addr()
	switch {
	case r.v6:
		sa = &syscall.SockaddrInet6{Port: int(to.Port()), Addr: ip.As16()}
	case ip.Unmap().Is4():
		sa = &syscall.SockaddrInet4{Port: int(to.Port()), Addr: ip.Unmap().As4()}
	default:
		return fmt.Errorf("send to %s from an IPv4 socket: %w", to, syscall.EAFNOSUPPORT)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return errRawClosed
	}
	for {
		err := syscall.Sendto(r.fd, b, 0, sa)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("sendto %s: %w", to, err)
		}
		return nil
	}
}

// close releases the duplicate descriptor once no send uses it.
func (r *rawSender) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		_ = syscall.Close(r.fd)
	}
}
