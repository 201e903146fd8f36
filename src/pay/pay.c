/*
 * Which payment provider serves this process: Razorpay when RAZORPAY_KEY_ID is configured
 * (config.c has already checked that its secret, webhook secret and base URL came with it),
 * the embedded test provider otherwise.
 */
#include "pay/pay.h"

tix_rc tix_pay_create(const tix_config *cfg, tix_pay_provider **out)
{
    if (cfg->razorpay_key_id[0] != '\0') {
        return tix_pay_razorpay_create(cfg, out);
    }
    return tix_pay_test_create(cfg, out);
}
