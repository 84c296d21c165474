package rpc

// TL RPC error codes, wire.md §4.9 (VK tlerrorcodes and KPHP
// rpc-error-codes.h). Ranges: -1000..-1999 syntax, -2000..-2999 semantic
// (both "user errors"), -3000..-3999 processing, -4000..-4999 generic,
// -5000..-5999 application.
const (
	CodeSyntax       int32 = -1000 // TL_ERROR_SYNTAX
	CodeExtraData    int32 = -1001 // TL_ERROR_EXTRA_DATA
	CodeHeader       int32 = -1002 // TL_ERROR_HEADER
	CodeWrongQueryID int32 = -1003 // TL_ERROR_WRONG_QUERY_ID

	CodeUnknownFunctionID   int32 = -2000 // TL_ERROR_UNKNOWN_FUNCTION_ID
	CodeProxyNoTarget       int32 = -2001 // TL_ERROR_PROXY_NO_TARGET
	CodeWrongActorID        int32 = -2002 // TL_ERROR_WRONG_ACTOR_ID
	CodeTooLongString       int32 = -2003 // TL_ERROR_TOO_LONG_STRING
	CodeValueNotInRange     int32 = -2004 // TL_ERROR_VALUE_NOT_IN_RANGE
	CodeQueryIncorrect      int32 = -2005 // TL_ERROR_QUERY_INCORRECT
	CodeBadValue            int32 = -2006 // TL_ERROR_BAD_VALUE
	CodeBinlogDisabled      int32 = -2007 // TL_ERROR_BINLOG_DISABLED
	CodeFeatureDisabled     int32 = -2008 // TL_ERROR_FEATURE_DISABLED
	CodeQueryIsEmpty        int32 = -2009 // TL_ERROR_QUERY_IS_EMPTY
	CodeInvalidConnectionID int32 = -2010 // TL_ERROR_INVALID_CONNECTION_ID
	CodeGracefulShutdown    int32 = -2014 // TL_ERROR_GRACEFUL_SHUTDOWN (Go only)

	CodeQueryTimeout             int32 = -3000 // TL_ERROR_QUERY_TIMEOUT
	CodeProxyInvalidResponse     int32 = -3001 // TL_ERROR_PROXY_INVALID_RESPONSE
	CodeNoConnections            int32 = -3002 // TL_ERROR_NO_CONNECTIONS
	CodeInternal                 int32 = -3003 // TL_ERROR_INTERNAL
	CodeAIOFail                  int32 = -3004 // TL_ERROR_AIO_FAIL
	CodeAIOTimeout               int32 = -3005 // TL_ERROR_AIO_TIMEOUT
	CodeBinlogWaitTimeout        int32 = -3006 // TL_ERROR_BINLOG_WAIT_TIMEOUT
	CodeAIOMaxRetryExceeded      int32 = -3007 // TL_ERROR_AIO_MAX_RETRY_EXCEEDED
	CodeTTL                      int32 = -3008 // TL_ERROR_TTL
	CodeOutOfMemory              int32 = -3009 // TL_ERROR_OUT_OF_MEMORY
	CodeBadMetafile              int32 = -3010 // TL_ERROR_BAD_METAFILE
	CodeResultTooLarge           int32 = -3011 // TL_ERROR_RESULT_TOO_LARGE
	CodeTooManyBadResponses      int32 = -3012 // TL_ERROR_TOO_MANY_BAD_RESPONSES
	CodeFloodControl             int32 = -3013 // TL_ERROR_FLOOD_CONTROL
	CodeCongestionControlDiscard int32 = -3017 // TL_ERROR_CONGESTION_CONTROL_DISCARD (Go only)
	CodeTooManyRequests          int32 = -3029 // TL_ERROR_TOO_MANY_REQUESTS (Go only)

	CodeUnknown                  int32 = -4000 // TL_ERROR_UNKNOWN
	CodeResponseSyntax           int32 = -4101 // TL_ERROR_RESPONSE_SYNTAX
	CodeResponseNotFound         int32 = -4102 // TL_ERROR_RESPONSE_NOT_FOUND
	CodeTimeoutInRPCClient       int32 = -4103 // TL_ERROR_TIMEOUT_IN_RPC_CLIENT
	CodeNoConnectionsInRPCClient int32 = -4104 // TL_ERROR_NO_CONNECTIONS_IN_RPC_CLIENT
	CodeRPCClientIsBusy          int32 = -4105 // TL_ERROR_RPC_CLIENT_IS_BUSY (C only)
)

// CodeName returns the name of a known error code without the TL_ERROR_
// prefix (CodeNoConnections -> "NO_CONNECTIONS"), or "" for other codes.
func CodeName(code int32) string {
	switch code {
	case CodeSyntax:
		return "SYNTAX"
	case CodeExtraData:
		return "EXTRA_DATA"
	case CodeHeader:
		return "HEADER"
	case CodeWrongQueryID:
		return "WRONG_QUERY_ID"
	case CodeUnknownFunctionID:
		return "UNKNOWN_FUNCTION_ID"
	case CodeProxyNoTarget:
		return "PROXY_NO_TARGET"
	case CodeWrongActorID:
		return "WRONG_ACTOR_ID"
	case CodeTooLongString:
		return "TOO_LONG_STRING"
	case CodeValueNotInRange:
		return "VALUE_NOT_IN_RANGE"
	case CodeQueryIncorrect:
		return "QUERY_INCORRECT"
	case CodeBadValue:
		return "BAD_VALUE"
	case CodeBinlogDisabled:
		return "BINLOG_DISABLED"
	case CodeFeatureDisabled:
		return "FEATURE_DISABLED"
	case CodeQueryIsEmpty:
		return "QUERY_IS_EMPTY"
	case CodeInvalidConnectionID:
		return "INVALID_CONNECTION_ID"
	case CodeGracefulShutdown:
		return "GRACEFUL_SHUTDOWN"
	case CodeQueryTimeout:
		return "QUERY_TIMEOUT"
	case CodeProxyInvalidResponse:
		return "PROXY_INVALID_RESPONSE"
	case CodeNoConnections:
		return "NO_CONNECTIONS"
	case CodeInternal:
		return "INTERNAL"
	case CodeAIOFail:
		return "AIO_FAIL"
	case CodeAIOTimeout:
		return "AIO_TIMEOUT"
	case CodeBinlogWaitTimeout:
		return "BINLOG_WAIT_TIMEOUT"
	case CodeAIOMaxRetryExceeded:
		return "AIO_MAX_RETRY_EXCEEDED"
	case CodeTTL:
		return "TTL"
	case CodeOutOfMemory:
		return "OUT_OF_MEMORY"
	case CodeBadMetafile:
		return "BAD_METAFILE"
	case CodeResultTooLarge:
		return "RESULT_TOO_LARGE"
	case CodeTooManyBadResponses:
		return "TOO_MANY_BAD_RESPONSES"
	case CodeFloodControl:
		return "FLOOD_CONTROL"
	case CodeCongestionControlDiscard:
		return "CONGESTION_CONTROL_DISCARD"
	case CodeTooManyRequests:
		return "TOO_MANY_REQUESTS"
	case CodeUnknown:
		return "UNKNOWN"
	case CodeResponseSyntax:
		return "RESPONSE_SYNTAX"
	case CodeResponseNotFound:
		return "RESPONSE_NOT_FOUND"
	case CodeTimeoutInRPCClient:
		return "TIMEOUT_IN_RPC_CLIENT"
	case CodeNoConnectionsInRPCClient:
		return "NO_CONNECTIONS_IN_RPC_CLIENT"
	case CodeRPCClientIsBusy:
		return "RPC_CLIENT_IS_BUSY"
	}
	return ""
}

// IsUserError reports whether code is a syntax or semantic error
// (-3000 < code <= -1000): the request itself was wrong, so retrying it on
// another replica cannot help.
func IsUserError(code int32) bool { return code > -3000 && code <= -1000 }

// IsApplicationError reports whether code is in the application range
// (-5999..-5000) that engines define for themselves.
func IsApplicationError(code int32) bool { return code > -6000 && code <= -5000 }
