"""Baseline: a raw smtplib loop over ONE STARTTLS connection (AUTH PLAIN, the same CA
check mailgui does). Prints the seconds from connect to QUIT.

    python raw_smtplib.py PORT CA_PEM MESSAGE_FILE COUNT USER PASSWORD RCPT
"""

import smtplib
import ssl
import sys
import time


def main() -> None:
    port, ca, path, count, user, password, rcpt = sys.argv[1:8]
    with open(path, "rb") as f:
        data = f.read()
    context = ssl.create_default_context(cafile=ca)
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", int(port), local_hostname="localhost", timeout=20)
    smtp.starttls(context=context)
    smtp.login(user, password)
    for _ in range(int(count)):
        smtp.sendmail(user, [rcpt], data)
    smtp.quit()
    print(f"{time.perf_counter() - started:.6f}")


if __name__ == "__main__":
    main()
