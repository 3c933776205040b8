package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/vpo-project/vpo/internal/catalog"
)

// Error is an API error with its HTTP status and a stable machine-readable code. It
// is rendered as {"error":{"code":...,"message":...}}.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// errorf builds an *Error.
func errorf(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // an API, not HTML: keep <, > and & readable
	_ = enc.Encode(v)
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError is the one place that turns an error into a response: an *Error keeps
// its status and message; anything else is a 500 whose details are logged, not shown.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	var ae *Error
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, catalog.ErrBusy):
		w.Header().Set("Retry-After", "5")
		ae = errorf(http.StatusServiceUnavailable, "database_busy",
			"the database is locked by another process and stayed locked for over 10s; retry later")
		err = ae
	case errors.Is(err, catalog.ErrFull):
		ae = errorf(http.StatusServiceUnavailable, "disk_full", "the disk holding the database is full; free some space and retry")
		err = ae
	case errors.Is(err, catalog.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		ae = errorf(http.StatusServiceUnavailable, "database_unavailable",
			"the database server cannot be reached; retry later")
		err = ae
	}
	if ae == nil && errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; there is nobody to answer and nothing went wrong.
		logger.Debug("client disconnected before the response", "method", r.Method, "path", r.URL.Path)
		return
	}
	if ae == nil {
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		ae = errorf(http.StatusInternalServerError, "internal", "internal error; see the vpo log")
	} else if ae.Status >= 500 {
		logger.Warn("request refused", "method", r.Method, "path", r.URL.Path,
			"status", ae.Status, "error", ae.Message)
	}
	var body errorBody
	body.Error.Code = ae.Code
	body.Error.Message = ae.Message
	writeJSON(w, ae.Status, body)
}
