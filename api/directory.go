package api

// directoryRoutes registers the contacts directory API.
func (s *Server) directoryRoutes() {}
