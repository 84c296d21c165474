package rpc

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{CodeNoConnections, "engine 127.0.0.1:9311 is down"}, "rpc error -3002 NO_CONNECTIONS: engine 127.0.0.1:9311 is down"},
		{Error{-5001, "app"}, "rpc error -5001: app"},
		{Error{0, ""}, "rpc error 0: "},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestErrorOf(t *testing.T) {
	engineDown := &Error{Code: CodeNoConnections, Description: "down"}
	tests := []struct {
		name     string
		err      error
		wantCode int32
		wantDesc string
	}{
		{"rpc error as is", engineDown, CodeNoConnections, "down"},
		{"wrapped rpc error", fmt.Errorf("shard 3: %w", engineDown), CodeNoConnections, "down"},
		{"code 0", &Error{Description: "x"}, CodeUnknown, "x"},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), CodeQueryTimeout, "call: context deadline exceeded"},
		{"header", fmt.Errorf("%w: dup", ErrHeader), CodeHeader, "rpc: invalid request header: dup"},
		{"other", errors.New("boom"), CodeUnknown, "boom"},
		{"nil", nil, CodeUnknown, "unknown error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorOf(tt.err)
			if got.Code != tt.wantCode || got.Description != tt.wantDesc {
				t.Fatalf("got %d %q, want %d %q", got.Code, got.Description, tt.wantCode, tt.wantDesc)
			}
		})
	}
	// The caller's error must not be modified through the copy.
	if engineDown.Code != CodeNoConnections {
		t.Fatal("ErrorOf modified its argument")
	}
}

func TestCodeNames(t *testing.T) {
	codes := map[int32]string{
		CodeSyntax: "SYNTAX", CodeExtraData: "EXTRA_DATA", CodeHeader: "HEADER", CodeWrongQueryID: "WRONG_QUERY_ID",
		CodeUnknownFunctionID: "UNKNOWN_FUNCTION_ID", CodeProxyNoTarget: "PROXY_NO_TARGET",
		CodeWrongActorID: "WRONG_ACTOR_ID", CodeTooLongString: "TOO_LONG_STRING",
		CodeValueNotInRange: "VALUE_NOT_IN_RANGE", CodeQueryIncorrect: "QUERY_INCORRECT",
		CodeBadValue: "BAD_VALUE", CodeBinlogDisabled: "BINLOG_DISABLED", CodeFeatureDisabled: "FEATURE_DISABLED",
		CodeQueryIsEmpty: "QUERY_IS_EMPTY", CodeInvalidConnectionID: "INVALID_CONNECTION_ID",
		CodeGracefulShutdown: "GRACEFUL_SHUTDOWN", CodeQueryTimeout: "QUERY_TIMEOUT",
		CodeProxyInvalidResponse: "PROXY_INVALID_RESPONSE", CodeNoConnections: "NO_CONNECTIONS",
		CodeInternal: "INTERNAL", CodeAIOFail: "AIO_FAIL", CodeAIOTimeout: "AIO_TIMEOUT",
		CodeBinlogWaitTimeout: "BINLOG_WAIT_TIMEOUT", CodeAIOMaxRetryExceeded: "AIO_MAX_RETRY_EXCEEDED",
		CodeTTL: "TTL", CodeOutOfMemory: "OUT_OF_MEMORY", CodeBadMetafile: "BAD_METAFILE",
		CodeResultTooLarge: "RESULT_TOO_LARGE", CodeTooManyBadResponses: "TOO_MANY_BAD_RESPONSES",
		CodeFloodControl: "FLOOD_CONTROL", CodeCongestionControlDiscard: "CONGESTION_CONTROL_DISCARD",
		CodeTooManyRequests: "TOO_MANY_REQUESTS", CodeUnknown: "UNKNOWN", CodeResponseSyntax: "RESPONSE_SYNTAX",
		CodeResponseNotFound: "RESPONSE_NOT_FOUND", CodeTimeoutInRPCClient: "TIMEOUT_IN_RPC_CLIENT",
		CodeNoConnectionsInRPCClient: "NO_CONNECTIONS_IN_RPC_CLIENT", CodeRPCClientIsBusy: "RPC_CLIENT_IS_BUSY",
	}
	if len(codes) != 38 {
		t.Fatalf("%d codes in the table, wire.md §4.9 lists 38", len(codes))
	}
	for code, name := range codes {
		if got := CodeName(code); got != name {
			t.Errorf("CodeName(%d) = %q, want %q", code, got, name)
		}
	}
	// Spot-check the numeric values against wire.md §4.9.
	if CodeNoConnections != -3002 || CodeTooManyRequests != -3029 || CodeGracefulShutdown != -2014 || CodeRPCClientIsBusy != -4105 {
		t.Fatal("code values drifted")
	}
	if CodeName(-1) != "" {
		t.Fatal("unknown code has a name")
	}
	if !IsUserError(CodeSyntax) || !IsUserError(CodeGracefulShutdown) || IsUserError(CodeQueryTimeout) {
		t.Fatal("IsUserError")
	}
	if !IsApplicationError(-5000) || !IsApplicationError(-5999) || IsApplicationError(-4999) || IsApplicationError(-6000) {
		t.Fatal("IsApplicationError")
	}
}
