package api

// callerIDRoutes registers the caller-ID lookup and the phone directories.
func (s *Server) callerIDRoutes() {}
