package runtimeapi

import (
	"net/http"

	"github.com/qgov/qgov/denial"
)

// Statuses give each code of a gateway's refusal (a denial.Denial) its
// HTTP status: the one table docs/errors.md lists. A decision is never
// a 5xx, which Qiskit clients retry, except where nothing was forwarded.
var Statuses = map[string]int{
	"empty_body": http.StatusBadRequest, "invalid_allowed_ips": http.StatusBadRequest,
	"invalid_body": http.StatusBadRequest, "invalid_circuit": http.StatusBadRequest,
	"invalid_cost": http.StatusBadRequest, "invalid_cursor": http.StatusBadRequest,
	"invalid_decision": http.StatusBadRequest, "invalid_expiry": http.StatusBadRequest,
	"invalid_file": http.StatusBadRequest, "invalid_form": http.StatusBadRequest,
	"invalid_format": http.StatusBadRequest, "invalid_grace": http.StatusBadRequest,
	"invalid_json": http.StatusBadRequest, "invalid_limit": http.StatusBadRequest,
	"invalid_name": http.StatusBadRequest, "invalid_object": http.StatusBadRequest,
	"invalid_offset": http.StatusBadRequest, "invalid_params": http.StatusBadRequest,
	"invalid_period": http.StatusBadRequest, "invalid_pubs": http.StatusBadRequest,
	"invalid_query": http.StatusBadRequest, "invalid_rate_limit": http.StatusBadRequest,
	"invalid_report": http.StatusBadRequest, "invalid_return_to": http.StatusBadRequest,
	"invalid_tags": http.StatusBadRequest, "invalid_user": http.StatusBadRequest,
	"missing_params": http.StatusBadRequest, "missing_program_id": http.StatusBadRequest,
	"missing_service_crn": http.StatusBadRequest, "reserved_tag": http.StatusBadRequest,
	"secret_not_allowed": http.StatusBadRequest, "too_many_shots": http.StatusBadRequest,
	"unknown_scope":        http.StatusBadRequest,
	"identity_unavailable": http.StatusUnauthorized, "signin_failed": http.StatusUnauthorized,
	"signin_refused": http.StatusUnauthorized, "unauthorized": http.StatusUnauthorized,
	"admin_required": http.StatusForbidden, "api_key_creation_disabled": http.StatusForbidden,
	"approval_not_allowed": http.StatusForbidden, "backend_blocked": http.StatusForbidden,
	"backend_not_allowed": http.StatusForbidden, "budget_exceeded": http.StatusForbidden,
	"channel_not_allowed": http.StatusForbidden, "credential_not_allowed": http.StatusForbidden,
	"cross_origin": http.StatusForbidden, "csrf": http.StatusForbidden,
	"host_not_allowed": http.StatusForbidden, "instance_not_accessible": http.StatusForbidden,
	"ip_not_allowed": http.StatusForbidden, "job_size_unknown": http.StatusForbidden,
	"key_owner_inactive": http.StatusForbidden, "limit_exceeded": http.StatusForbidden,
	"mfa_required": http.StatusForbidden, "not_owner": http.StatusForbidden,
	"permission_denied": http.StatusForbidden, "policy_blocked": http.StatusForbidden,
	"policy_error": http.StatusForbidden, "policy_modification_failed": http.StatusForbidden,
	"priority_not_allowed": http.StatusForbidden, "privilege_ceiling": http.StatusForbidden,
	"project_not_accessible": http.StatusForbidden, "project_not_held": http.StatusForbidden,
	"role_in_use": http.StatusForbidden, "scope_not_granted": http.StatusForbidden,
	"scope_not_held": http.StatusForbidden, "self_approval_not_allowed": http.StatusForbidden,
	"simulator_only": http.StatusForbidden, "tenant_default_failed": http.StatusForbidden,
	"tenant_not_accessible": http.StatusForbidden, "user_list_hidden": http.StatusForbidden,
	"user_required":            http.StatusForbidden,
	"approvals_not_configured": http.StatusNotFound, "audit_not_found": http.StatusNotFound,
	"governance_not_configured": http.StatusNotFound, "job_not_found": http.StatusNotFound,
	"key_not_found": http.StatusNotFound, "not_found": http.StatusNotFound,
	"session_not_found": http.StatusNotFound, "unknown_provider": http.StatusNotFound,
	"unknown_report": http.StatusNotFound, "unknown_route": http.StatusNotFound,
	"method_not_allowed": http.StatusMethodNotAllowed,
	"already_exists":     http.StatusConflict, "approval_already_decided": http.StatusConflict,
	"concurrent_change": http.StatusConflict, "job_final": http.StatusConflict, "job_held": http.StatusConflict,
	"job_releasing": http.StatusConflict, "managed_by_config": http.StatusConflict,
	"precondition_failed": http.StatusPreconditionFailed,
	"body_too_large":      http.StatusRequestEntityTooLarge, "circuits_too_large": http.StatusRequestEntityTooLarge,
	"period_too_large":             http.StatusRequestEntityTooLarge,
	"unsupported_content_encoding": http.StatusUnsupportedMediaType,
	"precondition_required":        http.StatusPreconditionRequired,
	"approval_limit_reached":       http.StatusTooManyRequests, "quota_exceeded": http.StatusTooManyRequests,
	"rate_limited":  http.StatusTooManyRequests,
	"export_failed": http.StatusInternalServerError, "report_failed": http.StatusInternalServerError,
	"bad_answer": http.StatusBadGateway, "upstream_credentials": http.StatusBadGateway,
	"upstream_misconfigured": http.StatusBadGateway, "upstream_unreachable": http.StatusBadGateway,
	"audit_unavailable": http.StatusServiceUnavailable, "gateway_busy": http.StatusServiceUnavailable,
	"gateway_starting": http.StatusServiceUnavailable, "quota_unavailable": http.StatusServiceUnavailable,
	"store_unavailable": http.StatusServiceUnavailable,
}

// StatusOf is the HTTP status of a refusal's code; a code outside
// Statuses is a fault of the gateway's, answered 500.
func StatusOf(code string) int {
	if s, ok := Statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Wire is a refusal as the Runtime API answers it, its status from
// Statuses; nil stays nil.
func Wire(d *denial.Denial) *Error {
	if d == nil {
		return nil
	}
	return &Error{Status: StatusOf(d.Code), Code: d.Code, Message: d.Message, MoreInfo: d.MoreInfo, RetryAfter: d.RetryAfter, Header: d.Header}
}

// WriteDenial sends a refusal as the Runtime API error body, with its
// status from Statuses and the request's trace.
func WriteDenial(w http.ResponseWriter, d *denial.Denial, trace string) { Wire(d).Write(w, trace) }
