package restock_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
)

// The wave-0 step job fails after its batches are committed (planning the
// next wave fails on the first attempt only); River retries it.
func TestHostileWaveStepRetryAfterFanOut(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(6)...)
		useWaves(t, e, 1, time.Hour)
		var ddl []string
		if strings.HasPrefix(dsn, "sqlite") {
			ddl = []string{`CREATE TRIGGER crash_once BEFORE INSERT ON river_job
				WHEN NEW.kind = 'send_step' AND json_extract(NEW.args, '$.wave') = 1
				AND EXISTS (SELECT 1 FROM river_job WHERE kind = 'send_step' AND state = 'running' AND attempt = 1)
				BEGIN SELECT RAISE(ABORT, 'simulated crash'); END`}
		} else {
			ddl = []string{`CREATE FUNCTION crash_once() RETURNS trigger AS $$ BEGIN
				IF NEW.kind = 'send_step' AND (NEW.args->>'wave')::int = 1
				   AND EXISTS (SELECT 1 FROM river_job WHERE kind = 'send_step' AND state = 'running' AND attempt = 1) THEN
					RAISE EXCEPTION 'simulated crash';
				END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER crash_once BEFORE INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION crash_once()`}
		}
		for _, q := range ddl {
			if err := e.Store.DB.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		restock(e, 1, 0) // budget 1
		for range 3 {
			e.Advance(time.Minute)
		}
		var attempts []int
		e.Store.DB.Raw("SELECT attempt FROM river_job WHERE kind = 'send_step' ORDER BY id").Scan(&attempts)
		var waves []int
		e.Store.DB.Model(&store.Message{}).Where("step = 1").Order("id").Pluck("wave", &waves)
		t.Logf("step job attempts %v; step1 messages by wave %v; recipients %v", attempts, waves, sortedKeys(recipientsTo(e, "1")))
		if n := len(recipientsTo(e, "1")); n != 1 {
			t.Errorf("wave 0 with 1 unit × 1 went to %d shoppers", n)
		}
	})
}

// More than 1000 shoppers in one wave: 2500 waiting, 1000 per unit, 2 units.
func TestHostileWaveOver1000(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "first@example.com")
		subs := make([]store.Subscription, 0, 2499)
		for i := range 2499 {
			subs = append(subs, store.Subscription{ShopID: e.Shop.ID, VariantID: variantID, Email: fmt.Sprintf("s%04d@example.com", i), Status: store.SubWaiting})
		}
		if err := e.Store.DB.CreateInBatches(subs, 500).Error; err != nil {
			t.Fatal(err)
		}
		useWaves(t, e, 1000, time.Hour)
		restock(e, 2, 0)
		if n := len(recipientsTo(e, "1")); n != 2000 {
			t.Errorf("wave 0: %d, want 2000", n)
		}
		e.Advance(time.Hour + time.Second)
		got := recipientsTo(e, "1")
		if len(got) != 2500 {
			t.Errorf("after wave 1: %d", len(got))
		}
		for k, n := range got {
			if n != 1 {
				t.Errorf("%s ×%d", k, n)
			}
		}
		e.Advance(time.Hour + time.Second)
		t.Logf("step jobs %d", stepJobs(e))
	})
}

// Stock rises between waves (no webhook: the wave re-reads).
func TestHostileStockRisesBetweenWaves(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(10)...)
		useWaves(t, e, 1, time.Hour)
		restock(e, 1, 0)
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 3)
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 2, 2)
		e.Advance(time.Hour + time.Second)
		if n := len(recipientsTo(e, "1")); n != 6 {
			t.Errorf("after wave 1: %d, want 1+5", n)
		}
	})
}

// Waves on, then turned off mid-campaign: campaign keeps its plan.
func TestHostileWavesOffMidCampaign(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(4)...)
		useWaves(t, e, 1, time.Hour)
		restock(e, 1, 0)
		useWaves(t, e, 0, time.Hour)
		e.Advance(time.Hour + time.Second)
		if n := len(recipientsTo(e, "1")); n != 2 {
			t.Errorf("after wave 1: %d", n)
		}
		for range 4 {
			e.Advance(time.Hour + time.Second)
		}
		got := recipientsTo(e, "1")
		if len(got) != 4 {
			t.Errorf("all: %v", sortedKeys(got))
		}
		for k, n := range got {
			if n != 1 {
				t.Errorf("%s ×%d", k, n)
			}
		}
	})
}

// Sold out and restocked while campaign 1's next wave is scheduled.
func TestHostileRestockWhileWaveScheduled(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(6)...)
		useWaves(t, e, 1, time.Hour)
		restock(e, 1, 0) // s00
		e.Advance(10 * time.Minute)
		soldOutNow(e)
		e.Advance(10 * time.Minute)
		restock(e, 1, 0) // campaign 2, wave 0: s01 (never told)
		for range 8 {
			e.Advance(time.Hour + time.Second)
		}
		var rows []struct {
			CampaignID     int64
			SubscriptionID int64
			Wave           int
			Status         string
		}
		e.Store.DB.Raw("SELECT campaign_id, subscription_id, wave, status FROM messages WHERE step = 1 ORDER BY campaign_id, id").Scan(&rows)
		t.Logf("step1 messages %+v", rows)
		got := recipientsTo(e, "1")
		t.Logf("recipients %v", sortedKeys(got))
		if len(got) != 6 {
			t.Errorf("not everyone reached: %v", sortedKeys(got))
		}
	})
}

// Step 2 disabled, step 3 enabled: later waves get step 3 from their start.
func TestHostileStep3OnlyWaves(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(3)...)
		v, _ := e.Flow.ShopSettings(t.Context(), apptest.ShopDomain)
		in := v.Settings
		in.Step2Enabled, in.Step3Enabled, in.Step2DelaySeconds, in.Step3DelaySeconds = false, true, 3600, 2*86400
		in.WaveSize, in.WaveIntervalSeconds = 1, 3600
		if err := e.Flow.SaveShopSettings(t.Context(), apptest.ShopDomain, in); err != nil {
			t.Fatal(err)
		}
		restock(e, 1, 0)
		for range 3 {
			e.Advance(time.Hour + time.Second)
		}
		if n := len(recipientsTo(e, "1")); n != 3 {
			t.Fatalf("step 1: %d", n)
		}
		e.Advance(48*time.Hour - 3*time.Hour - 10*time.Second)
		if n := len(recipientsTo(e, "3")); n != 0 {
			t.Errorf("step 3 early: %d", n)
		}
		e.Advance(20 * time.Second)
		if n := len(recipientsTo(e, "3")); n != 1 {
			t.Errorf("step 3 at 48h: %d", n)
		}
		for range 3 {
			e.Advance(time.Hour + time.Second)
		}
		got := recipientsTo(e, "3")
		if len(got) != 3 || len(recipientsTo(e, "2")) != 0 {
			t.Errorf("step 3 %v step 2 %v", sortedKeys(got), recipientsTo(e, "2"))
		}
	})
}

// Threshold: in stock above threshold; what budget does a wave use?
func TestHostileThresholdBudget(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(10)...)
		v, _ := e.Flow.ShopSettings(t.Context(), apptest.ShopDomain)
		in := v.Settings
		in.Threshold, in.WaveSize, in.WaveIntervalSeconds = 3, 1, 3600
		if err := e.Flow.SaveShopSettings(t.Context(), apptest.ShopDomain, in); err != nil {
			t.Fatal(err)
		}
		restock(e, 3, 0)
		if n := len(recipientsTo(e, "1")); n != 0 {
			t.Errorf("at threshold: %d sent", n)
		}
		// Above the threshold the restock opens; a wave is sized by the
		// units in stock (4), not by the units above the threshold.
		restock(e, 4, 0)
		if n := len(recipientsTo(e, "1")); n != 4 {
			t.Errorf("stock 4, threshold 3, one per unit: wave 0 sent %d", n)
		}
		// Back down to the threshold before the next wave (no webhook):
		// the wave's fresh read finds it sold out and sends nothing.
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 3)
		e.Advance(time.Hour + time.Second)
		if n := len(recipientsTo(e, "1")); n != 4 {
			t.Errorf("a wave went out at the threshold: %d", n)
		}
	})
}
