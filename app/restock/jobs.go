package restock

import (
	"github.com/riverqueue/river"
)

// River job kinds and their JSON are stored: never rename them. Ids travel
// as JSON strings: River's JSON handling turns large numbers into floats,
// and Shopify ids do not fit in a float64.

// WebhookArgs processes the Shopify webhooks recorded in one intake commit,
// in order; each is marked when done, so a retry skips those.
type WebhookArgs struct {
	WebhookRowIDs []int64 `json:"webhook_row_ids"` // serial row ids: far below 2^53
}

// Kind names the job.
func (WebhookArgs) Kind() string { return "process_webhooks" }

// CheckArgs re-reads one variant's stock from Shopify and acts on a change.
type CheckArgs struct {
	ShopID    int64 `json:"shop_id,string"`
	VariantID int64 `json:"variant_id,string"`
}

// Kind names the job.
func (CheckArgs) Kind() string { return "check_variant" }

// StepArgs starts one step of one campaign: it decides who gets it and
// fans the recipients out into batch jobs.
type StepArgs struct {
	CampaignID int64 `json:"campaign_id,string" river:"unique"`
	Step       int   `json:"step" river:"unique"`
	// Wave numbers the waves of a campaign with waves (0: the first, or
	// everyone); WaveAt (Unix seconds) is when a later wave began, the
	// time its later steps count from (0: the campaign's opening).
	Wave   int   `json:"wave,omitempty" river:"unique"`
	WaveAt int64 `json:"wave_at,omitempty"`
}

// Kind names the job.
func (StepArgs) Kind() string { return "send_step" }

// InsertOpts make a step run once per campaign and wave.
func (StepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// BatchArgs sends one step to the shoppers whose subscription ids lie in
// [FromSub, ToSub]: at most one provider request's worth.
type BatchArgs struct {
	CampaignID int64 `json:"campaign_id,string"`
	Step       int   `json:"step"`
	Wave       int   `json:"wave,omitempty"`
	FromSub    int64 `json:"from_sub,string"`
	ToSub      int64 `json:"to_sub,string"`
	// IDs, when set (a wave), are the exact subscriptions of the batch;
	// FromSub and ToSub then only name it.
	IDs []int64 `json:"ids,omitempty"`
}

// Kind names the job.
func (BatchArgs) Kind() string { return "send_batch" }

// InsertOpts make each batch run once.
func (BatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}
