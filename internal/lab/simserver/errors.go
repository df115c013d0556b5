package simserver

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/aws/smithy-go"
)

// Error codes the server itself answers with, besides those of the world.
const (
	codeSerialization    = "SerializationException"
	codeUnknownOperation = "UnknownOperationException"
	codeValidation       = "ValidationException"
	codeMissingParameter = "MissingRequiredParameterException"
	codeInternalFailure  = "InternalFailure"
)

// apiError is an error as the wire carries it: an HTTP status, the error
// shape's name (the __type), a message and the shape's other members.
type apiError struct {
	status  int
	code    string
	message string
	members map[string]any
	fault   smithy.ErrorFault
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func clientError(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...), fault: smithy.FaultClient}
}

// wireError turns an error of an operation into what the wire carries: a
// modeled SDK error with its members, a generic API error (throttling, a
// server fault) with its code, missing parameters as the service reports
// them, anything else as an internal failure.
func wireError(err error, svc *service) *apiError {
	var ip smithy.InvalidParamsError
	if errors.As(err, &ip) {
		var names []string
		for _, e := range ip.Errs() {
			var pe smithy.InvalidParamError
			if errors.As(e, &pe) {
				f := pe.Field()
				names = append(names, svc.naming.wire(f[strings.LastIndex(f, ".")+1:]))
			}
		}
		if svc.naming == pascalCase {
			if len(names) == 1 {
				return clientError(codeMissingParameter, "The parameter %s is required.", names[0])
			}
			return clientError(codeMissingParameter, "The parameters %s are required.", strings.Join(names, ", "))
		}
		msg := "1 validation error detected:"
		if len(names) > 1 {
			msg = fmt.Sprintf("%d validation errors detected:", len(names))
		}
		for i, n := range names {
			if i > 0 {
				msg += ";"
			}
			msg += fmt.Sprintf(" Value null at '%s' failed to satisfy constraint: Member must not be null", n)
		}
		return clientError(codeValidation, "%s", msg)
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return &apiError{status: http.StatusInternalServerError, code: codeInternalFailure, message: err.Error(), fault: smithy.FaultServer}
	}
	out := &apiError{status: http.StatusBadRequest, code: api.ErrorCode(), message: api.ErrorMessage(), fault: api.ErrorFault()}
	if out.fault == smithy.FaultServer {
		out.status = http.StatusInternalServerError
	}
	if v := reflect.ValueOf(api); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct && v.Type() != reflect.TypeFor[*smithy.GenericAPIError]() {
		// A modeled error: its members, which the error shapes of both
		// models name in lowerCamelCase, but a few that name their message
		// Message.
		if m, ok, err := encode(v, camelCase); err == nil && ok {
			members := m.(map[string]any)
			delete(members, "message")
			if capitalMessage[out.code] {
				members["Message"] = out.message
			}
			if len(members) > 0 {
				out.members = members
			}
		}
	}
	return out
}

// capitalMessage are the error shapes the world returns whose message
// member the model names Message; the protocols' own message key,
// message, is written too.
var capitalMessage = map[string]bool{"InternalServiceFault": true}

// body is the error's wire form: __type, message and the other members.
// The message may echo the request: it is made valid UTF-8, as CBOR text
// must be.
func (e *apiError) body() map[string]any {
	b := map[string]any{"__type": e.code, "message": strings.ToValidUTF8(e.message, "\uFFFD")}
	for k, v := range e.members {
		b[k] = v
	}
	return b
}

// queryCodes are the awsQuery error codes of CloudWatch's error shapes, as
// its model's awsQueryError traits give them, for the X-Amzn-Query-Error
// header of a query-compatible service.
var queryCodes = map[string]string{
	"InvalidParameterValueException":       "InvalidParameterValue",
	"InvalidParameterCombinationException": "InvalidParameterCombination",
	"MissingRequiredParameterException":    "MissingParameter",
	"InternalServiceFault":                 "InternalServiceError",
	"ThrottlingException":                  "Throttling",
}

// queryError is the X-Amzn-Query-Error header value: code;Sender or
// code;Receiver.
func (e *apiError) queryError() string {
	code := e.code
	if c, ok := queryCodes[code]; ok {
		code = c
	}
	if e.fault == smithy.FaultServer {
		return code + ";Receiver"
	}
	return code + ";Sender"
}
