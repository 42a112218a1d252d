package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// getCluster is GET /v1/cluster: the Replicator's view, with each node's API
// address from the replicated node list where the Replicator left it empty,
// and each node's checkpoint verifier key from that list.
func (s *Server) getCluster(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	st := s.repl.Status()
	known, err := s.reader.Nodes()
	if err != nil {
		return readErr("nodes", err)
	}
	apiAddr := make(map[string]string, len(known))
	noteKey := make(map[string]string, len(known))
	for _, n := range known {
		if !n.Removed {
			apiAddr[n.ID], noteKey[n.ID] = n.APIAddr, n.NoteKey
		}
	}
	nodes := make([]NodeStatus, 0, len(st.Nodes))
	for _, n := range st.Nodes {
		if n.APIAddr == "" {
			n.APIAddr = apiAddr[n.ID]
		}
		n.NoteKey = noteKey[n.ID]
		nodes = append(nodes, n)
	}
	st.Nodes = nodes
	return writeJSON(c, http.StatusOK, st)
}

// nodeRequest is POST /v1/cluster/nodes.
type nodeRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
}

// addNode is POST /v1/cluster/nodes (operator): the node joins as a voter,
// and its addresses are replicated so every node can point clients at it.
func (s *Server) addNode(c echo.Context) error {
	if err := requireRole(who(c), eligibility.RoleOperator); err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	var req nodeRequest
	if err := s.bindStrict(c, &req); err != nil {
		return err
	}
	if !transfer.ValidID(req.ID) {
		return invalid("id must match [A-Za-z0-9._:-]{1,128}")
	}
	if err := validAddr("raft_addr", req.RaftAddr); err != nil {
		return err
	}
	if err := validAddr("api_addr", req.APIAddr); err != nil {
		return err
	}
	info := ledger.NodeInfo{ID: req.ID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr}
	if err := s.repl.AddNode(c.Request().Context(), info); err != nil {
		if errors.Is(err, ErrNodeRemoved) {
			return newError(http.StatusConflict, CodeIDReused, "node "+req.ID+" was removed from the cluster; a replacement takes a new id")
		}
		return fmt.Errorf("add node %s: %w", req.ID, err)
	}
	s.log.Info("node added", keyNode, req.ID, keyRaftAddr, req.RaftAddr)
	return writeJSON(c, http.StatusOK, info)
}

// removeNode is DELETE /v1/cluster/nodes/{id} (operator).
func (s *Server) removeNode(c echo.Context) error {
	if err := requireRole(who(c), eligibility.RoleOperator); err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	id := c.Param("id")
	if err := s.repl.RemoveNode(c.Request().Context(), id); err != nil {
		if errors.Is(err, ErrNotMember) {
			return notFound("node " + id + " is not a member of the cluster")
		}
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	s.log.Info("node removed", keyNode, id)
	return c.NoContent(http.StatusNoContent)
}

// validAddr checks a host:port address.
func validAddr(field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || len(addr) > 256 {
		return invalid(field + " must be host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return invalid(field + " must have a port from 1 to 65535")
	}
	return nil
}
