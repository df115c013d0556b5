package simserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// lambdaFunctions is the path prefix of Lambda's function operations.
const lambdaFunctions = "/2019-09-30/functions/"

// serveLambda serves GetFunctionConcurrency in restJson1, as Lambda does:
// GET /2019-09-30/functions/FUNCTION/concurrency, the output as JSON
// members named as in the model, an error as its HTTP status, its code in
// X-Amzn-ErrorType and its members in the body.
func (s *Server) serveLambda(w http.ResponseWriter, r *http.Request) {
	const op = "GetFunctionConcurrency"
	fn, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, lambdaFunctions), "/concurrency")
	if !ok || fn == "" || strings.Contains(fn, "/") {
		writeLambdaError(w, &lambdatypes.ResourceNotFoundException{Type: aws.String("User"),
			Message: aws.String("this server serves only GET " + lambdaFunctions + "FUNCTION/concurrency of Lambda, not " + r.URL.Path)})
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		e := clientError(codeUnknownOperation, "method %q: GetFunctionConcurrency is a GET", r.Method)
		e.status = http.StatusMethodNotAllowed
		writeAPIError(w, r, restJSON, nil, e)
		return
	}
	s.mu.Lock()
	s.syncLocked()
	out, err := s.world.Lambda().GetFunctionConcurrency(r.Context(), &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
	latency := s.world.CallLatency(op)
	s.count(ProtocolRESTJSON, "Lambda."+op)
	s.mu.Unlock()
	if !wait(r.Context(), latency) {
		return
	}
	if err != nil {
		writeLambdaError(w, err)
		return
	}
	body := map[string]any{}
	if out.ReservedConcurrentExecutions != nil {
		body["ReservedConcurrentExecutions"] = *out.ReservedConcurrentExecutions
	}
	payload, _ := json.Marshal(body) // an int32 always encodes
	writeAPI(w, restJSON, http.StatusOK, payload)
}

// writeLambdaError writes an error of the Lambda API with the status and
// members its model gives it; any other error is a ServiceException.
func writeLambdaError(w http.ResponseWriter, err error) {
	var (
		rnf *lambdatypes.ResourceNotFoundException
		ipv *lambdatypes.InvalidParameterValueException
		tmr *lambdatypes.TooManyRequestsException
		se  *lambdatypes.ServiceException
		ip  smithy.InvalidParamsError
	)
	status, code, body := http.StatusInternalServerError, "ServiceException", map[string]any{"Type": "Service", "Message": err.Error()}
	switch {
	case errors.As(err, &rnf):
		status, code, body = http.StatusNotFound, rnf.ErrorCode(), map[string]any{"Type": aws.ToString(rnf.Type), "Message": rnf.ErrorMessage()}
	case errors.As(err, &ipv):
		status, code, body = http.StatusBadRequest, ipv.ErrorCode(), map[string]any{"Type": aws.ToString(ipv.Type), "message": ipv.ErrorMessage()}
	case errors.As(err, &ip):
		status, code, body = http.StatusBadRequest, "InvalidParameterValueException", map[string]any{"Type": "User", "message": ip.Error()}
	case errors.As(err, &tmr):
		status, code, body = http.StatusTooManyRequests, tmr.ErrorCode(), map[string]any{"Type": aws.ToString(tmr.Type), "message": tmr.ErrorMessage(), "Reason": string(tmr.Reason)}
		w.Header().Set("Retry-After", "1")
	case errors.As(err, &se):
		body = map[string]any{"Type": aws.ToString(se.Type), "Message": se.ErrorMessage()}
	}
	w.Header().Set("X-Amzn-ErrorType", code)
	payload, _ := json.Marshal(body) // strings only
	writeAPI(w, restJSON, status, payload)
}
