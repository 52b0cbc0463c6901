package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// The actions qgov records besides the Runtime API's own (IBM's
// quantum-computing.* names).
const (
	ActionToken        = "iam.token"
	ActionTokenKeys    = "iam.keys"
	ActionDiscovery    = "platform.discovery"
	ActionLogin        = "qgov.auth.login"
	ActionSignIn       = "qgov.auth.signin"
	ActionSignOut      = "qgov.auth.logout"
	ActionAuth         = "qgov.auth"
	ActionWhoami       = "qgov.auth.whoami"
	ActionUserList     = "qgov.user.list"
	ActionKeyList      = "qgov.apikey.list"
	ActionKeyCreate    = "qgov.apikey.create"
	ActionKeyRotate    = "qgov.apikey.rotate"
	ActionKeyRevoke    = "qgov.apikey.revoke"
	ActionSessionList  = "qgov.session.list"
	ActionSessionEnd   = "qgov.session.end"
	ActionSessionsEnd  = "qgov.session.end_all"
	ActionConfigLoad   = "qgov.config.load"
	ActionAuditQuery   = "qgov.audit.query"
	ActionAuditVerify  = "qgov.audit.verify"
	ActionReport       = "qgov.report.generate"
	ActionApprovalHold = "qgov.approval.requested"
	ActionApprove      = "qgov.approval.approve"
	ActionReject       = "qgov.approval.reject"
	ActionApprovalTime = "qgov.approval.timeout"
	ActionApprovalList = "qgov.approval.list"
	ActionEscalate     = "qgov.approval.escalate"
	ActionRelease      = "qgov.approval.release"
	ActionNotifyFailed = "qgov.notify.failed"
	ActionBudgetAlert  = "qgov.budget.threshold"
	ActionBudgetOver   = "qgov.budget.exceeded"
	ActionJobUsage     = "qgov.budget.usage"
	ActionPolicyError  = "qgov.policy.error"
	ActionRecovered    = "qgov.audit.recovered"
	// ActionJobFollowUp records a submission or release another replica
	// (or a restart) finished for one that stopped mid-way: the upstream
	// job it found and recorded, or that none was created.
	ActionJobFollowUp = "qgov.job.follow_up"
	// Governance API reads and changes of objects.
	ActionGovernanceRead   = "qgov.governance.read"
	ActionGovernanceCreate = "qgov.governance.create"
	ActionGovernancePut    = "qgov.governance.put"
	ActionGovernancePatch  = "qgov.governance.patch"
	ActionGovernanceDelete = "qgov.governance.delete"
	ActionGovernanceApply  = "qgov.governance.apply"
	ActionGovernanceExport = "qgov.governance.export"
	// ActionGovernanceDisabled records an object created through the API
	// that the configuration in force contradicts: configuration wins,
	// and the object is kept but not in force.
	ActionGovernanceDisabled = "qgov.governance.disabled"
)

// GovernanceAction names the action of a governance change by its verb
// (create, put, patch, delete).
func GovernanceAction(verb string) string { return "qgov.governance." + verb }

// categories gives each qgov action its category; the Runtime API's
// actions are requests.
var categories = map[string]string{
	ActionToken: CategoryAuth, ActionTokenKeys: CategoryAuth, ActionDiscovery: CategoryRequest, ActionLogin: CategoryAuth, ActionSignIn: CategoryAuth,
	ActionSignOut: CategoryAuth, ActionAuth: CategoryAuth, ActionWhoami: CategoryAuth, ActionUserList: CategoryAuth,
	ActionKeyList: CategoryKey, ActionKeyCreate: CategoryKey, ActionKeyRotate: CategoryKey, ActionKeyRevoke: CategoryKey,
	ActionSessionList: CategorySession, ActionSessionEnd: CategorySession, ActionSessionsEnd: CategorySession,
	ActionConfigLoad: CategoryAdmin, ActionAuditQuery: CategoryAdmin, ActionAuditVerify: CategoryAdmin, ActionReport: CategoryAdmin,
	ActionApprovalHold: CategoryApproval, ActionApprove: CategoryApproval, ActionReject: CategoryApproval, ActionApprovalTime: CategoryApproval,
	ActionApprovalList: CategoryApproval, ActionEscalate: CategoryApproval, ActionRelease: CategoryApproval, ActionNotifyFailed: CategorySystem,
	ActionBudgetAlert: CategoryBudget, ActionBudgetOver: CategoryBudget, ActionJobUsage: CategoryBudget,
	ActionPolicyError: CategoryPolicy, ActionRecovered: CategorySystem, ActionJobFollowUp: CategorySystem,
	ActionGovernanceRead: CategoryAdmin, ActionGovernanceCreate: CategoryAdmin, ActionGovernancePut: CategoryAdmin,
	ActionGovernancePatch: CategoryAdmin, ActionGovernanceDelete: CategoryAdmin, ActionGovernanceApply: CategoryAdmin,
	ActionGovernanceExport: CategoryAdmin, ActionGovernanceDisabled: CategoryAdmin,
}

// reads are the actions that change nothing: reading a job, a session,
// a backend, an instance, usage or discovery, and who one is.
var reads = map[string]bool{
	string(runtimeapi.ActionDeviceRead): true, string(runtimeapi.ActionInstanceRead): true,
	string(runtimeapi.ActionInstanceUsageRead): true, string(runtimeapi.ActionInstanceConfigRead): true,
	string(runtimeapi.ActionJobRead): true, string(runtimeapi.ActionSessionRead): true, string(runtimeapi.ActionWorkloadList): true,
	string(runtimeapi.ActionAnalyticsRead): true, string(runtimeapi.ActionAnalyticsFilters): true,
	string(runtimeapi.ActionAccountConfigRead): true,
	ActionDiscovery: true, ActionWhoami: true, ActionTokenKeys: true,
}

// ReadOnly reports whether the record is of a read that changed nothing
// and was served: not a change, not a refusal, not a failure.
func (r *Record) ReadOnly() bool {
	return r.Outcome == Success && reads[r.Action]
}

// aliases are IBM's enterprise-governance action names, accepted in queries.
var aliases = map[string][]string{
	"job:submit":      {string(runtimeapi.ActionJobCreate)},
	"job:view":        {string(runtimeapi.ActionJobRead)},
	"job:cancel":      {string(runtimeapi.ActionJobCancel)},
	"job:delete":      {string(runtimeapi.ActionJobDelete)},
	"job:approve":     {ActionApprove, ActionReject},
	"session:create":  {string(runtimeapi.ActionSessionCreate)},
	"budget:exceeded": {ActionBudgetOver},
	"budget:alert":    {ActionBudgetAlert},
	"user:login":      {ActionSignIn, ActionToken},
	"user:logout":     {ActionSignOut},
	"apikey:create":   {ActionKeyCreate},
	"apikey:rotate":   {ActionKeyRotate},
	"apikey:revoke":   {ActionKeyRevoke},
	"config:change": {ActionConfigLoad, ActionGovernanceCreate, ActionGovernancePut, ActionGovernancePatch, ActionGovernanceDelete,
		ActionGovernanceApply, ActionGovernanceDisabled},
}

// CategoryOf returns an action's category.
func CategoryOf(action string) string {
	if c, ok := categories[action]; ok {
		return c
	}
	return CategoryRequest
}

// ExpandActions resolves action names given in a query (qgov's, IBM's,
// legacy program.* names or IBM's enterprise-governance job:submit style) to the names
// records carry. An unknown name is an error listing where names come from.
func ExpandActions(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		var got []string
		switch {
		case aliases[n] != nil:
			got = aliases[n]
		case categories[n] != "":
			got = []string{n}
		default:
			for _, a := range runtimeapi.Expand(n) {
				got = append(got, string(a))
			}
		}
		if got == nil {
			return nil, fmt.Errorf("unknown action %q: use a quantum-computing.* action, a qgov.* action or one of %s",
				n, strings.Join(aliasNames(), ", "))
		}
		for _, a := range got {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

func aliasNames() []string {
	out := make([]string, 0, len(aliases))
	for n := range aliases {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
