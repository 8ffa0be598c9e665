package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// embeddedReady bounds the wait for an embedded server when ctx has no deadline.
const embeddedReady = 10 * time.Second

// ErrEmbeddedNotReady reports an embedded server that did not accept
// connections in time.
var ErrEmbeddedNotReady = errors.New("embedded nats-server not ready")

// RunEmbedded starts an in-process nats-server on a random 127.0.0.1 port
// for the no-flags default; see [RunEmbeddedPort].
func RunEmbedded(ctx context.Context, dir string, log zerolog.Logger) (*server.Server, string, error) {
	return RunEmbeddedPort(ctx, dir, server.RANDOM_PORT, log)
}

// RunEmbeddedPort starts an in-process nats-server on 127.0.0.1:port (-1 for
// a random port) and waits until it accepts connections. JetStream is on,
// stored in dir, only when dir is not empty. It returns the server and its
// client URL.
//
// The server shuts down when ctx ends: cancel ctx rather than calling
// Shutdown, then wait with srv.WaitForShutdown.
func RunEmbeddedPort(ctx context.Context, dir string, port int, log zerolog.Logger) (*server.Server, string, error) {
	opts := &server.Options{
		ServerName: "switchboard-embedded",
		Host:       "127.0.0.1",
		Port:       port,
		NoSigs:     true,
		// The HTTP monitor stays off; health comes from the client side.
		HTTPPort: 0,
	}
	if dir != "" {
		opts.JetStream = true
		opts.StoreDir = dir
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, "", fmt.Errorf("new embedded nats-server: %w", err)
	}
	srv.SetLoggerV2(serverLogger{log.With().Str("component", "nats-server").Logger()}, false, false, false)
	srv.Start()

	wait := embeddedReady
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, "", fmt.Errorf("start embedded nats-server on port %d: %w", port, ErrEmbeddedNotReady)
	}
	// The owner of this goroutine is the server: it ends when ctx ends,
	// and srv.WaitForShutdown returns after it has shut the server down.
	go func() {
		<-ctx.Done()
		srv.Shutdown()
	}()

	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		return srv, srv.ClientURL(), nil
	}
	return srv, "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port)), nil
}

// serverLogger adapts zerolog to nats-server's Logger.
type serverLogger struct{ log zerolog.Logger }

func (l serverLogger) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l serverLogger) Warnf(format string, v ...any)   { l.log.Warn().Msgf(format, v...) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l serverLogger) Errorf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l serverLogger) Debugf(format string, v ...any)  { l.log.Debug().Msgf(format, v...) }
func (l serverLogger) Tracef(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
