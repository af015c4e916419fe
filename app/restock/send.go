package restock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/store"
)

// Substitution keys filled per recipient by the mail provider.
const (
	subClick = "-rr_click_url-"
	subUnsub = "-rr_unsubscribe_url-"
)

type stepWorker struct {
	river.WorkerDefaults[StepArgs]
	f *Flow
}

// Work fans one step out into batches of one provider request each, over
// the recipients' subscription ids: for step 1 the shoppers waiting now, for
// a later step those whose step 1 was sent. A closed campaign's later steps
// are recorded as skipped with the reason.
func (w *stepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	f, a := w.f, job.Args
	c, err := store.CampaignByID(ctx, f.db.DB, a.CampaignID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	base := c.OpenedAt
	if a.WaveAt > 0 {
		base = time.Unix(a.WaveAt, 0).UTC()
	}
	if delay, ok := c.StepDelay(a.Step); !ok {
		return nil
	} else if due := base.Add(delay); f.Now().Before(due) {
		// Started early (clock skew, a manual retry): wait for the plan.
		return river.JobSnooze(due.Sub(f.Now()))
	}
	if a.Step > 1 && c.Status != store.CampaignOpen {
		now := f.Now()
		return f.db.DB.WithContext(ctx).Exec(`INSERT INTO messages (shop_id, campaign_id, subscription_id, step, wave, status, skip_reason, provider_id, created_at, updated_at)
			SELECT shop_id, campaign_id, subscription_id, ?, wave, ?, ?, '', ?, ? FROM messages WHERE campaign_id = ? AND step = 1 AND wave = ? AND status = ?
			ON CONFLICT (campaign_id, subscription_id, step) DO NOTHING`,
			a.Step, store.MsgSkipped, closeToSkip(c.CloseReason), now, now, c.ID, a.Wave, store.MsgSent).Error
	}
	if a.Step == 1 && c.WaveSize > 0 {
		return f.wave(ctx, c, a.Wave)
	}
	return f.fanOut(ctx, c, a.Step, a.Wave)
}

// wave sends step 1 of a campaign with waves to the next WaveSize shoppers
// per unit in stock (shoppers never told of a restock first, then by
// signup), then plans the next wave after the interval and this wave's
// later steps. A wave that finds the campaign closed or the variant sold
// out sends nothing: the shoppers not yet reached keep waiting for the next
// restock.
//
// The wave's step-1 messages are created (pending) in the same transaction
// as its batch jobs and its plan, so a retried wave job finds its wave
// already chosen and only re-plans (unique jobs): it never picks a second
// wave's worth. A shopper with a step-1 message in this campaign, sent or
// skipped, is never chosen again.
func (f *Flow) wave(ctx context.Context, c store.Campaign, wave int) error {
	if c.Status != store.CampaignOpen {
		return nil
	}
	var done int64
	if err := f.db.DB.WithContext(ctx).Model(&store.Message{}).
		Where("campaign_id = ? AND step = 1 AND wave = ?", c.ID, wave).Count(&done).Error; err != nil {
		return err
	}
	more := done > 0 // a retry: the wave was chosen; plan as if it was full
	budget := 0
	if done == 0 {
		v, err := f.freshVariant(ctx, c)
		if err != nil {
			return err
		}
		if !v.InStock {
			return nil
		}
		budget = c.WaveSize * max(v.SellableOnline, 1)
	}
	now := f.Now()
	return f.tx(ctx, func(tx *txn) error {
		if done == 0 {
			res := tx.Exec(`INSERT INTO messages (shop_id, campaign_id, subscription_id, step, wave, status, skip_reason, provider_id, created_at, updated_at)
				SELECT ?, ?, s.id, 1, ?, ?, '', '', ?, ? FROM subscriptions s
				WHERE s.shop_id = ? AND s.variant_id = ? AND s.status = ?
				  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = ? AND m.step = 1 AND m.subscription_id = s.id)
				ORDER BY s.cycles, s.id LIMIT ?
				ON CONFLICT (campaign_id, subscription_id, step) DO NOTHING`,
				c.ShopID, c.ID, wave, store.MsgPending, now, now, c.ShopID, c.VariantID, store.SubWaiting, c.ID, budget)
			if res.Error != nil {
				return fmt.Errorf("choose wave %d: %w", wave, res.Error)
			}
			n := int(res.RowsAffected)
			if n == 0 {
				return nil // nobody left: the waves end
			}
			more = n == budget // a partial wave reached everyone
			var ids []int64
			if err := tx.Model(&store.Message{}).Where("campaign_id = ? AND step = 1 AND wave = ?", c.ID, wave).
				Order("subscription_id").Pluck("subscription_id", &ids).Error; err != nil {
				return err
			}
			var batches []river.InsertManyParams
			for start := 0; start < len(ids); start += email.MaxRecipientsPerRequest {
				part := ids[start:min(start+email.MaxRecipientsPerRequest, len(ids))]
				batches = append(batches, batchParams(c.ID, 1, wave, part[0], part[len(part)-1], part))
			}
			if _, err := f.river.InsertManyTx(ctx, tx.sql, batches); err != nil {
				return fmt.Errorf("enqueue wave %d: %w", wave, err)
			}
			f.log.Info("restock wave", "campaign_id", c.ID, "wave", wave, "shoppers", n, "budget", budget, "more", more)
		}
		if wave > 0 { // the first wave's later steps were planned at opening
			for step := 2; step <= 3; step++ {
				if delay, ok := c.StepDelay(step); ok {
					opts := StepArgs{}.InsertOpts()
					opts.ScheduledAt = now.Add(delay)
					if _, err := tx.insert(ctx, StepArgs{CampaignID: c.ID, Step: step, Wave: wave, WaveAt: now.Unix()}, &opts); err != nil {
						return err
					}
				}
			}
		}
		if !more {
			return nil
		}
		next := now.Add(time.Duration(c.WaveIntervalSeconds) * time.Second)
		opts := StepArgs{}.InsertOpts()
		opts.ScheduledAt = next
		_, err := tx.insert(ctx, StepArgs{CampaignID: c.ID, Step: 1, Wave: wave + 1, WaveAt: next.Unix()}, &opts)
		return err
	})
}

// freshVariant is the campaign's variant with a stock read at most
// StockTTL old (reused across the batches of one step); if Shopify cannot
// be read, the stored state decides.
func (f *Flow) freshVariant(ctx context.Context, c store.Campaign) (store.Variant, error) {
	v, err := store.VariantByID(ctx, f.db.DB, c.ShopID, c.VariantID)
	if err != nil {
		return v, err
	}
	if v.StockCheckedAt != nil && f.Now().Sub(*v.StockCheckedAt) < f.cfg.StockTTL {
		return v, nil
	}
	if _, err := f.Check(ctx, c.ShopID, c.VariantID, true); err != nil {
		f.log.Warn("pre-send stock check failed; using stored state", "campaign_id", c.ID, "error", err)
	}
	return store.VariantByID(ctx, f.db.DB, c.ShopID, c.VariantID)
}

func closeToSkip(reason string) string {
	if reason == store.CloseUninstalled {
		return store.SkipUninstalled
	}
	return store.SkipSoldOut
}

// recipientsQuery selects the subscription ids a step goes to: for step 1
// the shoppers waiting, for a later step those of the wave whose step 1
// was sent.
func (f *Flow) recipientsQuery(c store.Campaign, step, wave int) (string, []any) {
	if step == 1 {
		return `SELECT id AS sid FROM subscriptions WHERE shop_id = ? AND variant_id = ? AND status = ?`,
			[]any{c.ShopID, c.VariantID, store.SubWaiting}
	}
	return `SELECT subscription_id AS sid FROM messages WHERE campaign_id = ? AND step = 1 AND wave = ? AND status = ?`,
		[]any{c.ID, wave, store.MsgSent}
}

// fanOut enqueues one batch job per MaxRecipientsPerRequest recipients,
// streaming ids so memory stays flat however many wait.
func (f *Flow) fanOut(ctx context.Context, c store.Campaign, step, wave int) error {
	q, args := f.recipientsQuery(c, step, wave)
	q += " ORDER BY 1"
	rows, err := f.db.DB.WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return fmt.Errorf("list recipients: %w", err)
	}
	var batches []river.InsertManyParams
	var from, last int64
	n := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		if n == 0 {
			from = id
		}
		last = id
		n++
		if n == email.MaxRecipientsPerRequest {
			batches = append(batches, batchParams(c.ID, step, wave, from, last, nil))
			n = 0
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	rows.Close()
	if n > 0 {
		batches = append(batches, batchParams(c.ID, step, wave, from, last, nil))
	}
	for start := 0; start < len(batches); start += 200 {
		part := batches[start:min(start+200, len(batches))]
		if err := f.tx(ctx, func(tx *txn) error {
			_, err := f.river.InsertManyTx(ctx, tx.sql, part)
			return err
		}); err != nil {
			return fmt.Errorf("enqueue batches: %w", err)
		}
	}
	return nil
}

func batchParams(c int64, step, wave int, from, to int64, ids []int64) river.InsertManyParams {
	opts := BatchArgs{}.InsertOpts()
	return river.InsertManyParams{Args: BatchArgs{CampaignID: c, Step: step, Wave: wave, FromSub: from, ToSub: to, IDs: ids}, InsertOpts: &opts}
}

type batchWorker struct {
	river.WorkerDefaults[BatchArgs]
	f *Flow
}

type claimed struct {
	ID             int64
	SubscriptionID int64
}

// Work sends one batch. Its messages are created (or taken from pending)
// with status sending and committed before the provider is called, so a
// retry never resends what an earlier attempt might have sent; each ends
// sent, skipped (with the reason), failed or, after a crash mid-request,
// unconfirmed.
func (w *batchWorker) Work(ctx context.Context, job *river.Job[BatchArgs]) error {
	f, a := w.f, job.Args
	c, err := store.CampaignByID(ctx, f.db.DB, a.CampaignID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var msgs []claimed
	err = f.tx(ctx, func(tx *txn) error {
		now := f.Now()
		inRange := "campaign_id = ? AND step = ? AND wave = ? AND subscription_id BETWEEN ? AND ?"
		var only any = []int64{0}
		if len(a.IDs) > 0 { // a wave's batch: exactly these shoppers
			inRange = "campaign_id = ? AND step = ? AND wave = ? AND subscription_id BETWEEN ? AND ? AND subscription_id IN ?"
			only = a.IDs
		}
		// Every attempt looks for leftovers: River restarts a job interrupted
		// by shutdown with the same attempt number.
		// Left in "sending" by an attempt that died mid-request: maybe sent.
		if err := tx.Model(&store.Message{}).Where(inRange+" AND status = ?", rangeArgs(c.ID, a, only, store.MsgSending)...).
			Updates(map[string]any{"status": store.MsgUnconfirmed, "updated_at": now}).Error; err != nil {
			return err
		}
		// Put back by an attempt that failed cleanly.
		if err := tx.Raw(`UPDATE messages SET status = ?, skip_reason = '', updated_at = ? WHERE `+inRange+` AND status = ? RETURNING id, subscription_id`,
			append([]any{store.MsgSending, now}, rangeArgs(c.ID, a, only, store.MsgPending)...)...).Scan(&msgs).Error; err != nil {
			return err
		}
		q, args := f.recipientsQuery(c, a.Step, a.Wave)
		var fresh []claimed
		args = append([]any{c.ShopID, c.ID, a.Step, a.Wave, store.MsgSending, now, now}, args...)
		args = append(args, a.FromSub, a.ToSub)
		within := ""
		if len(a.IDs) > 0 {
			within, args = " AND r.sid IN ?", append(args, a.IDs)
		}
		if err := tx.Raw(`INSERT INTO messages (shop_id, campaign_id, subscription_id, step, wave, status, skip_reason, provider_id, created_at, updated_at)
			SELECT ?, ?, r.sid, ?, ?, ?, '', '', ?, ? FROM (`+q+`) AS r WHERE r.sid BETWEEN ? AND ?`+within+`
			ON CONFLICT (campaign_id, subscription_id, step) DO NOTHING RETURNING id, subscription_id`, args...).Scan(&fresh).Error; err != nil {
			return err
		}
		msgs = append(msgs, fresh...)
		return nil
	})
	if err != nil || len(msgs) == 0 {
		return err
	}
	sendErr := f.sendClaimed(ctx, c, a.Step, msgs)
	if sendErr != nil {
		ids := make([]int64, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		// What the provider did not take goes back to pending for the retry,
		// unless the request was cut off in flight.
		status := store.MsgPending
		switch {
		case email.ErrIsPermanent(sendErr):
			status = store.MsgFailed
		case errors.Is(sendErr, email.ErrUncertain):
			status = store.MsgUnconfirmed // never risk a second copy
		}
		// Even when the job's context was cancelled (shutdown), record it.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := f.db.DB.WithContext(uctx).Model(&store.Message{}).Where("id IN ? AND status = ?", ids, store.MsgSending).
			Updates(map[string]any{"status": status, "skip_reason": trimReason(sendErr.Error()), "updated_at": f.Now()}).Error; err != nil {
			return errors.Join(sendErr, err)
		}
		if email.ErrIsPermanent(sendErr) {
			return river.JobCancel(sendErr)
		}
		return sendErr
	}
	return nil
}

// rangeArgs are the arguments of a batch's inRange condition, then status.
func rangeArgs(campaignID int64, a BatchArgs, only any, status string) []any {
	args := []any{campaignID, a.Step, a.Wave, a.FromSub, a.ToSub}
	if len(a.IDs) > 0 {
		args = append(args, only)
	}
	return append(args, status)
}

func trimReason(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

// sendClaimed checks every claimed message against the rules of the moment
// (bought? unsubscribed? still in stock? still installed?), renders the
// step once and sends it to those still eligible.
func (f *Flow) sendClaimed(ctx context.Context, c store.Campaign, step int, msgs []claimed) error {
	shop, err := store.ShopByID(ctx, f.db.DB, c.ShopID)
	if err != nil {
		return err
	}
	skipAll := ""
	switch {
	case !shop.Active():
		skipAll = store.SkipUninstalled
	case c.Status != store.CampaignOpen:
		skipAll = closeToSkip(c.CloseReason)
	}
	var v store.Variant
	if skipAll == "" {
		// The same fresh check as the restock itself, reused for a few
		// seconds across the batches of one step.
		if v, err = f.freshVariant(ctx, c); err != nil {
			return err
		}
		if c2, err := store.CampaignByID(ctx, f.db.DB, c.ID); err == nil && c2.Status != store.CampaignOpen {
			skipAll = closeToSkip(c2.CloseReason)
		} else if !v.InStock {
			skipAll = store.SkipSoldOut
		}
	}

	subIDs := make([]int64, len(msgs))
	for i, m := range msgs {
		subIDs[i] = m.SubscriptionID
	}
	var subs []store.Subscription
	if err := f.db.DB.WithContext(ctx).Where("id IN ?", subIDs).Find(&subs).Error; err != nil {
		return err
	}
	byID := make(map[int64]store.Subscription, len(subs))
	emails := make([]string, 0, len(subs))
	for _, s := range subs {
		byID[s.ID] = s
		emails = append(emails, s.Email)
	}
	suppressed := map[string]bool{}
	if len(emails) > 0 {
		var sup []store.Suppression
		if err := f.db.DB.WithContext(ctx).Where("shop_id = ? AND email IN ?", c.ShopID, emails).Find(&sup).Error; err != nil {
			return err
		}
		for _, s := range sup {
			suppressed[s.Email] = true
		}
	}

	skips := map[string][]int64{}
	var send []claimed
	for _, m := range msgs {
		s, ok := byID[m.SubscriptionID]
		reason := skipAll
		switch {
		case reason != "":
		case !ok:
			reason = store.SkipUnsubscribed
		case s.Status == store.SubConverted:
			reason = store.SkipConverted
		case s.Status == store.SubUnsubscribed:
			reason = store.SkipUnsubscribed
		case suppressed[s.Email]:
			reason = store.SkipSuppressed
		case step > 1 && s.Status != store.SubNotified:
			reason = store.SkipNotNotified
		}
		if reason != "" {
			skips[reason] = append(skips[reason], m.ID)
			continue
		}
		send = append(send, m)
	}
	now := f.Now()
	for reason, ids := range skips {
		if err := f.db.DB.WithContext(ctx).Model(&store.Message{}).Where("id IN ?", ids).
			Updates(map[string]any{"status": store.MsgSkipped, "skip_reason": reason, "updated_at": now}).Error; err != nil {
			return err
		}
	}
	if len(send) == 0 {
		return nil
	}

	settings, err := store.SettingsFor(ctx, f.db.DB, c.ShopID)
	if err != nil {
		return err
	}
	saved, err := store.CopiesFor(ctx, f.db.DB, c.ShopID)
	if err != nil {
		return err
	}
	// One email per copy: shoppers get the merchant's text for their
	// locale, else the shop's default, else the built-in copy.
	groups := map[email.Copy][]claimed{}
	var order []email.Copy
	for _, cm := range send {
		cp := copyFor(saved, f.cfg.Renderer, step, byID[cm.SubscriptionID].Locale)
		if _, ok := groups[cp]; !ok {
			order = append(order, cp)
		}
		groups[cp] = append(groups[cp], cm)
	}
	for _, cp := range order {
		if err := f.sendGroup(ctx, c, step, shop, v, settings, cp, groups[cp], byID); err != nil {
			return err
		}
	}
	return nil
}

// sendGroup renders one copy of a step once and sends it to its shoppers,
// each with their own links.
func (f *Flow) sendGroup(ctx context.Context, c store.Campaign, step int, shop store.Shop, v store.Variant, settings store.Settings,
	cp email.Copy, send []claimed, byID map[int64]store.Subscription) error {
	r, err := f.cfg.Renderer.Render(email.StepData{
		Step: step, ShopName: nonEmpty(shop.Name, shopLabel(shop.Domain)), ProductTitle: v.ProductTitle, VariantTitle: variantLabel(v.Title),
		Price: FormatPrice(v.Price, v.Currency), ImageURL: v.ImageURL, ClickURL: subClick, UnsubscribeURL: subUnsub,
		StockLeft: v.SellableOnline, WaitingCount: c.WaitingAtOpen, BrandColor: settings.BrandColor, LogoURL: settings.LogoURL,
		Lang: byID[send[0].SubscriptionID].Locale,
	}, cp)
	if err != nil {
		return fmt.Errorf("%w: render step %d: %v", email.ErrPermanent, step, err)
	}
	m := &email.Message{
		From:       email.Address{Email: f.cfg.MailFrom, Name: nonEmpty(settings.SenderName, nonEmpty(shop.Name, shopLabel(shop.Domain)))},
		Subject:    r.Subject,
		Text:       r.Text,
		HTML:       r.HTML,
		Categories: []string{"restock", "step-" + strconv.Itoa(step)},
	}
	if settings.ReplyTo != "" {
		m.ReplyTo = &email.Address{Email: settings.ReplyTo}
	}
	for _, cm := range send {
		s := byID[cm.SubscriptionID]
		unsub := f.cfg.Links.UnsubscribeURL(cm.ID)
		m.Recipients = append(m.Recipients, email.Recipient{
			Email:         s.Email,
			Substitutions: map[string]string{subClick: f.cfg.Links.ClickURL(cm.ID), subUnsub: unsub},
			Headers:       map[string]string{"List-Unsubscribe": "<" + unsub + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
			CustomArgs: map[string]string{"shop": shop.Domain, "campaign_id": strconv.FormatInt(c.ID, 10),
				"subscription_id": strconv.FormatInt(s.ID, 10), "message_id": strconv.FormatInt(cm.ID, 10), "step": strconv.Itoa(step)},
		})
	}
	res, sendErr := f.cfg.Sender.Send(ctx, m)
	// Record what the provider took even when part of the send failed.
	if err := f.recordSent(ctx, c, step, send, res); err != nil {
		return errors.Join(sendErr, err)
	}
	if sendErr != nil {
		return fmt.Errorf("send step %d of campaign %d: %w", step, c.ID, sendErr)
	}
	f.log.Info("step sent", "shop", shop.Domain, "campaign_id", c.ID, "step", step, "sent", len(res.Accepted), "rejected", len(res.Rejected))
	return nil
}

func (f *Flow) recordSent(ctx context.Context, c store.Campaign, step int, send []claimed, res email.Result) error {
	if len(res.Accepted) == 0 && len(res.Rejected) == 0 {
		return nil
	}
	now := f.Now()
	return f.tx(ctx, func(tx *txn) error {
		byProvider := map[string][]int64{}
		var subIDs []int64
		for _, i := range res.Accepted {
			byProvider[res.ProviderIDs[i]] = append(byProvider[res.ProviderIDs[i]], send[i].ID)
			subIDs = append(subIDs, send[i].SubscriptionID)
		}
		for pid, ids := range byProvider {
			if err := tx.Model(&store.Message{}).Where("id IN ?", ids).
				Updates(map[string]any{"status": store.MsgSent, "provider_id": pid, "sent_at": now, "updated_at": now}).Error; err != nil {
				return err
			}
		}
		for i, reason := range res.Rejected {
			if err := tx.Model(&store.Message{}).Where("id = ?", send[i].ID).
				Updates(map[string]any{"status": store.MsgFailed, "skip_reason": store.SkipRejected + ": " + trimReason(reason), "updated_at": now}).Error; err != nil {
				return err
			}
		}
		if step == 1 && len(subIDs) > 0 {
			if err := tx.Model(&store.Subscription{}).Where("id IN ? AND status = ?", subIDs, store.SubWaiting).
				Updates(map[string]any{"status": store.SubNotified, "notified_at": now, "updated_at": now}).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

func shopLabel(domain string) string {
	name := strings.TrimSuffix(domain, ".myshopify.com")
	return strings.ReplaceAll(name, "-", " ")
}

func variantLabel(t string) string {
	if t == "Default Title" {
		return ""
	}
	return t
}

var currencySymbols = map[string]string{"USD": "$", "CAD": "CA$", "AUD": "A$", "EUR": "€", "GBP": "£", "JPY": "¥", "NZD": "NZ$"}

// FormatPrice shows a decimal price with its currency.
func FormatPrice(amount, currency string) string {
	if amount == "" {
		return ""
	}
	if sym, ok := currencySymbols[strings.ToUpper(currency)]; ok {
		return sym + amount
	}
	if currency == "" {
		return amount
	}
	return amount + " " + strings.ToUpper(currency)
}
