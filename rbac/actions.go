package rbac

import "github.com/qgov/qgov/ibm/runtimeapi"

const actionPrefix = "quantum-computing."

// ibmActions maps IBM's action names to capabilities. The legacy
// program.* names still appear in custom roles (IBM's list), and
// user.logout has no Runtime API route: it is accepted and grants
// nothing.
var ibmActions = map[string][]Capability{
	string(runtimeapi.ActionJobCreate):          {JobCreate},
	string(runtimeapi.ActionJobRead):            {JobRead, ResultRead},
	string(runtimeapi.ActionJobCancel):          {JobCancel},
	string(runtimeapi.ActionJobDelete):          {JobDelete},
	string(runtimeapi.ActionJobUpdate):          {JobUpdate},
	string(runtimeapi.ActionSessionCreate):      {SessionCreate},
	string(runtimeapi.ActionSessionRead):        {SessionRead},
	string(runtimeapi.ActionSessionUpdate):      {SessionUpdate},
	string(runtimeapi.ActionDeviceRead):         {DeviceRead},
	string(runtimeapi.ActionInstanceRead):       {InstanceRead},
	string(runtimeapi.ActionInstanceUsageRead):  {InstanceUsageRead},
	string(runtimeapi.ActionInstanceConfigRead): {InstanceConfigRead},
	string(runtimeapi.ActionInstanceConfigEdit): {InstanceConfigUpdate},
	string(runtimeapi.ActionWorkloadList):       {WorkloadList},
	string(runtimeapi.ActionAnalyticsRead):      {AnalyticsRead},
	string(runtimeapi.ActionAnalyticsFilters):   {AnalyticsRead},
	string(runtimeapi.ActionAccountConfigRead):  {AccountConfigRead},
	"quantum-computing.program.create":          {JobCreate},
	"quantum-computing.program.read":            {JobRead, ResultRead},
	"quantum-computing.program.update":          {JobCancel, JobUpdate},
	"quantum-computing.program.delete":          {JobDelete},
	"quantum-computing.user.logout":             nil,
}

// routeCaps is the capability each Runtime API action needs.
var routeCaps = map[runtimeapi.Action]Capability{
	runtimeapi.ActionJobCreate:          JobCreate,
	runtimeapi.ActionJobRead:            JobRead,
	runtimeapi.ActionJobCancel:          JobCancel,
	runtimeapi.ActionJobDelete:          JobDelete,
	runtimeapi.ActionJobUpdate:          JobUpdate,
	runtimeapi.ActionSessionCreate:      SessionCreate,
	runtimeapi.ActionSessionRead:        SessionRead,
	runtimeapi.ActionSessionUpdate:      SessionUpdate,
	runtimeapi.ActionDeviceRead:         DeviceRead,
	runtimeapi.ActionInstanceRead:       InstanceRead,
	runtimeapi.ActionInstanceUsageRead:  InstanceUsageRead,
	runtimeapi.ActionInstanceConfigRead: InstanceConfigRead,
	runtimeapi.ActionInstanceConfigEdit: InstanceConfigUpdate,
	runtimeapi.ActionWorkloadList:       WorkloadList,
	runtimeapi.ActionAnalyticsRead:      AnalyticsRead,
	runtimeapi.ActionAnalyticsFilters:   AnalyticsRead,
	runtimeapi.ActionAccountConfigRead:  AccountConfigRead,
}

// RouteCapability is the capability a classified Runtime API route
// needs: its action's, with a job's results read as ResultRead.
func RouteCapability(r runtimeapi.Route) Capability {
	if r.Action == runtimeapi.ActionJobRead && r.Results {
		return ResultRead
	}
	return routeCaps[r.Action]
}
