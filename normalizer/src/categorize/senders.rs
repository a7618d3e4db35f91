//! What the sender's address says: the organisation behind its domain, whether it is a
//! personal mailbox, and whether its local part is a role or a bulk sender.
//!
//! The domain table holds the sending domains of organisations whose mail is one kind of
//! thing, grouped; each group notes where its entries come from. An entry `brand.*` matches
//! the brand under any public suffix (`ticketmaster.com.br`, `amazon.co.jp`); every entry also
//! matches its subdomains (`email.ticketmaster.com`). The table is maintained by hand: add a
//! domain to its group when real mail from it is misfiled.

use crate::Category;
use crate::Category::*;
use std::collections::HashMap;
use std::sync::LazyLock;

/// What kind of organisation a sending domain belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Group {
    Airline,
    Rail,
    Hotel,
    LodgingPlatform,
    TravelAgency,
    Ticketing,
    Restaurant,
    CarRental,
    Delivery,
    Retail,
    Appointments,
    Recruiting,
    WorkTools,
    Media,
    Social,
    Accounts,
}

impl Group {
    /// The points a sender of this group gives, per category.
    pub(super) fn points(self) -> &'static [(Category, i32)] {
        match self {
            Group::Airline => &[(TravelFlight, 4)],
            Group::Rail | Group::CarRental | Group::Delivery | Group::Appointments => {
                &[(Booking, 4)]
            }
            Group::Restaurant => &[(Booking, 4)],
            Group::Hotel => &[(TravelHotel, 4)],
            Group::LodgingPlatform => &[(TravelHotel, 3)],
            Group::TravelAgency => &[(TravelFlight, 2), (TravelHotel, 2)],
            Group::Ticketing => &[(EventTicket, 4)],
            Group::Retail => &[(Booking, 2)],
            Group::Recruiting => &[(Professional, 4)],
            Group::WorkTools => &[(Professional, 3)],
            Group::Media => &[(Other, 4)],
            Group::Social | Group::Accounts => &[(Other, 3)],
        }
    }
}

use Group::*;

/// (domain, group). Sources, per group:
/// - airlines: the carriers' own web and mail domains (IATA member list, airlines' sites);
/// - rail and coach: national operators and the big resellers (UIC members, operators' sites);
/// - hotels: the largest chains (their brand sites) and national platforms;
/// - lodging platforms and travel agencies: the major OTAs per market;
/// - ticketing: ticket sellers per market (their sites);
/// - restaurants: table-booking services per market;
/// - car rental and rides: rental companies, car sharing and ride hailing per market;
/// - delivery: postal services and parcel carriers (UPU members and the big couriers);
/// - retail: marketplaces and large online shops (order mail comes from the same domains);
/// - appointments: appointment-booking services;
/// - recruiting: job boards and applicant-tracking systems; work tools: invoicing,
///   accounting, e-signature and collaboration services;
/// - media: newspapers, newsletters and mailing-list services; social: social networks'
///   notification domains; accounts: banks, payment and account-security senders.
#[rustfmt::skip]
pub(super) const DOMAINS: &[(&str, Group)] = &[
    // airlines
    ("united.com", Airline), ("delta.com", Airline), ("aa.com", Airline),
    ("southwest.com", Airline), ("jetblue.com", Airline), ("alaskaair.com", Airline),
    ("hawaiianairlines.com", Airline), ("spirit.com", Airline), ("flyfrontier.com", Airline),
    ("allegiantair.com", Airline), ("aircanada.ca", Airline), ("aircanada.com", Airline),
    ("westjet.com", Airline), ("aeromexico.com", Airline), ("volaris.com", Airline),
    ("vivaaerobus.com", Airline), ("latam.com", Airline), ("avianca.com", Airline),
    ("copaair.com", Airline), ("voegol.com.br", Airline), ("voeazul.com.br", Airline),
    ("aerolineas.com.ar", Airline), ("jetsmart.com", Airline), ("lufthansa.com", Airline),
    ("eurowings.com", Airline), ("condor.com", Airline), ("swiss.com", Airline),
    ("austrian.com", Airline), ("brusselsairlines.com", Airline), ("britishairways.com", Airline),
    ("ba.com", Airline), ("virginatlantic.com", Airline), ("airfrance.fr", Airline),
    ("airfrance.com", Airline), ("klm.com", Airline), ("klm.nl", Airline),
    ("transavia.com", Airline), ("iberia.com", Airline), ("iberiaexpress.com", Airline),
    ("vueling.com", Airline), ("aireuropa.com", Airline), ("volotea.com", Airline),
    ("binter.es", Airline), ("easyjet.com", Airline), ("ryanair.com", Airline),
    ("wizzair.com", Airline), ("norwegian.com", Airline), ("flysas.com", Airline),
    ("sas.se", Airline), ("finnair.com", Airline), ("icelandair.com", Airline),
    ("aerlingus.com", Airline), ("tap.pt", Airline), ("flytap.com", Airline),
    ("ita-airways.com", Airline), ("aegeanair.com", Airline), ("lot.com", Airline),
    ("smartwings.com", Airline), ("airbaltic.com", Airline), ("enterair.pl", Airline),
    ("turkishairlines.com", Airline), ("thy.com", Airline), ("flypgs.com", Airline),
    ("ajet.com", Airline), ("sunexpress.com", Airline), ("corendon-airlines.com", Airline),
    ("emirates.com", Airline), ("qatarairways.com", Airline), ("etihad.com", Airline),
    ("saudia.com", Airline), ("flynas.com", Airline), ("flydubai.com", Airline),
    ("airarabia.com", Airline), ("omanair.com", Airline), ("gulfair.com", Airline),
    ("rj.com", Airline), ("egyptair.com", Airline), ("royalairmaroc.com", Airline),
    ("elal.com", Airline), ("aeroflot.ru", Airline), ("s7.ru", Airline), ("pobeda.aero", Airline),
    ("uralairlines.ru", Airline), ("utair.ru", Airline), ("airindia.com", Airline),
    ("airindia.in", Airline), ("goindigo.in", Airline), ("spicejet.com", Airline),
    ("akasaair.com", Airline), ("airindiaexpress.com", Airline), ("jal.com", Airline),
    ("jal.co.jp", Airline), ("ana.co.jp", Airline), ("flypeach.com", Airline),
    ("skymark.co.jp", Airline), ("jetstar.com", Airline), ("zipair.net", Airline),
    ("airchina.com.cn", Airline), ("airchina.com", Airline), ("ceair.com", Airline),
    ("csair.com", Airline), ("hainanairlines.com", Airline), ("xiamenair.com", Airline),
    ("sichuanair.com", Airline), ("ch.com", Airline), ("china-airlines.com", Airline),
    ("evaair.com", Airline), ("starlux-airlines.com", Airline), ("cathaypacific.com", Airline),
    ("hkexpress.com", Airline), ("koreanair.com", Airline), ("flyasiana.com", Airline),
    ("jejuair.net", Airline), ("jinair.com", Airline), ("twayair.com", Airline),
    ("airbusan.com", Airline), ("singaporeair.com", Airline), ("flyscoot.com", Airline),
    ("thaiairways.com", Airline), ("airasia.com", Airline), ("malaysiaairlines.com", Airline),
    ("garuda-indonesia.com", Airline), ("vietnamairlines.com", Airline),
    ("vietjetair.com", Airline), ("philippineairlines.com", Airline),
    ("cebupacificair.com", Airline), ("qantas.com", Airline), ("virginaustralia.com", Airline),
    ("airnewzealand.co.nz", Airline), ("ethiopianairlines.com", Airline),
    ("kenya-airways.com", Airline), ("flysaa.com", Airline), ("flynorse.com", Airline),
    ("play.is", Airline),
    // rail and coach
    ("bahn.de", Rail), ("sbb.ch", Rail), ("oebb.at", Rail), ("sncf-connect.com", Rail),
    ("sncf.com", Rail), ("sncf.fr", Rail), ("ouigo.com", Rail), ("renfe.com", Rail),
    ("iryo.eu", Rail), ("trenitalia.com", Rail), ("trenitalia.it", Rail), ("italotreno.it", Rail),
    ("ns.nl", Rail), ("nsinternational.com", Rail), ("eurostar.com", Rail), ("intercity.pl", Rail),
    ("cd.cz", Rail), ("amtrak.com", Rail), ("viarail.ca", Rail), ("rzd.ru", Rail),
    ("tutu.ru", Rail), ("irctc.co.in", Rail), ("12306.cn", Rail), ("rails.com.cn", Rail),
    ("thsrc.com.tw", Rail), ("expy.jp", Rail), ("eki-net.com", Rail), ("smart-ex.jp", Rail),
    ("korail.com", Rail), ("letskorail.com", Rail), ("srail.or.kr", Rail),
    ("tcddtasimacilik.gov.tr", Rail), ("cp.pt", Rail), ("trainline.com", Rail),
    ("thetrainline.com", Rail), ("flixbus.com", Rail), ("flixbus.de", Rail),
    ("blablacar.com", Rail), ("hhr.sa", Rail), ("sar.com.sa", Rail), ("obilet.com", Rail),
    ("redbus.in", Rail),
    // hotels
    ("marriott.com", Hotel), ("hilton.com", Hotel), ("hyatt.com", Hotel), ("ihg.com", Hotel),
    ("accor.com", Hotel), ("all.accor.com", Hotel), ("accor-mail.com", Hotel),
    ("wyndhamhotels.com", Hotel), ("choicehotels.com", Hotel), ("bestwestern.com", Hotel),
    ("bestwestern.it", Hotel), ("radissonhotels.com", Hotel), ("melia.com", Hotel),
    ("nh-hotels.com", Hotel), ("riu.com", Hotel), ("barcelo.com", Hotel), ("iberostar.com", Hotel),
    ("motel-one.com", Hotel), ("steigenberger.com", Hotel), ("kempinski.com", Hotel),
    ("fourseasons.com", Hotel), ("ritzcarlton.com", Hotel), ("shangri-la.com", Hotel),
    ("mandarinoriental.com", Hotel), ("peninsula.com", Hotel), ("rotana.com", Hotel),
    ("jumeirah.com", Hotel), ("oyorooms.com", Hotel), ("tajhotels.com", Hotel),
    ("itchotels.com", Hotel), ("lemontreehotels.com", Hotel), ("apahotel.com", Hotel),
    ("toyoko-inn.com", Hotel), ("huazhu.com", Hotel), ("jinjiang.com", Hotel), ("atour.com", Hotel),
    ("lottehotel.com", Hotel), ("shillahotels.com", Hotel), ("hotelbb.com", Hotel),
    ("premierinn.com", Hotel), ("travelodge.co.uk", Hotel), ("pestana.com", Hotel),
    ("vilagale.com", Hotel), ("valk.com", Hotel), ("fletcher.nl", Hotel),
    ("scandichotels.com", Hotel), ("hotels.com", Hotel), ("hoteis.com", Hotel), ("hrs.de", Hotel),
    ("hrs.com", Hotel), ("jalan.net", Hotel), ("travel.rakuten.co.jp", Hotel), ("ikyu.com", Hotel),
    ("yanolja.com", Hotel), ("goodchoice.kr", Hotel), ("etstur.com", Hotel),
    ("jollytur.com", Hotel), ("tatilbudur.com", Hotel), ("ostrovok.ru", Hotel),
    ("hostelworld.com", Hotel), ("venere.com", Hotel), ("hotels.nl", Hotel),
    ("nocowanie.pl", Hotel), ("vrbo.com", Hotel),
    // lodging platforms
    ("booking.com", LodgingPlatform), ("airbnb.com", LodgingPlatform),
    ("agoda.com", LodgingPlatform),
    // travel agencies
    ("expedia.com", TravelAgency), ("expedia.nl", TravelAgency), ("trip.com", TravelAgency),
    ("ctrip.com", TravelAgency), ("fliggy.com", TravelAgency), ("makemytrip.com", TravelAgency),
    ("cleartrip.com", TravelAgency), ("goibibo.com", TravelAgency), ("kayak.com", TravelAgency),
    ("edreams.com", TravelAgency), ("opodo.com", TravelAgency), ("lastminute.com", TravelAgency),
    ("kiwi.com", TravelAgency), ("almosafer.com", TravelAgency), ("wego.com", TravelAgency),
    ("priceline.com", TravelAgency), ("hopper.com", TravelAgency),
    ("travel.yandex.ru", TravelAgency), ("decolar.com", TravelAgency),
    ("despegar.com", TravelAgency), ("eztravel.com.tw", TravelAgency),
    ("destinia.com", TravelAgency), ("tui.com", TravelAgency), ("tui.nl", TravelAgency),
    ("corendon.nl", TravelAgency), ("ly.com", TravelAgency), ("tuniu.com", TravelAgency),
    // ticketing
    ("ticketmaster.*", Ticketing), ("livenation.*", Ticketing), ("eventim.*", Ticketing),
    ("stubhub.*", Ticketing), ("seatgeek.com", Ticketing), ("axs.com", Ticketing),
    ("eventbrite.*", Ticketing), ("dice.fm", Ticketing), ("seetickets.*", Ticketing),
    ("fnacspectacles.com", Ticketing), ("ticketone.it", Ticketing), ("vivaticket.com", Ticketing),
    ("ticketsms.it", Ticketing), ("entradas.com", Ticketing), ("taquilla.com", Ticketing),
    ("sympla.com.br", Ticketing), ("ingresso.com", Ticketing), ("bol.pt", Ticketing),
    ("ticketline.sapo.pt", Ticketing), ("ebilet.pl", Ticketing), ("goingapp.pl", Ticketing),
    ("biletyna.pl", Ticketing), ("biletix.com", Ticketing), ("passo.com.tr", Ticketing),
    ("bubilet.com.tr", Ticketing), ("kassir.ru", Ticketing), ("ticketland.ru", Ticketing),
    ("afisha.yandex.ru", Ticketing), ("platinumlist.net", Ticketing), ("webook.com", Ticketing),
    ("tazkarti.com", Ticketing), ("bookmyshow.com", Ticketing), ("insider.in", Ticketing),
    ("district.in", Ticketing), ("eplus.co.jp", Ticketing), ("eplus.jp", Ticketing),
    ("pia.jp", Ticketing), ("l-tike.com", Ticketing), ("damai.cn", Ticketing),
    ("maoyan.com", Ticketing), ("showstart.com", Ticketing), ("kktix.com", Ticketing),
    ("tixcraft.com", Ticketing), ("ticket.com.tw", Ticketing), ("ticket.interpark.com", Ticketing),
    ("interpark.com", Ticketing), ("ticket.melon.com", Ticketing), ("melon.com", Ticketing),
    ("ticketlink.co.kr", Ticketing), ("ticket.yes24.com", Ticketing),
    ("muenchenticket.de", Ticketing), ("reservix.de", Ticketing), ("paylogic.com", Ticketing),
    ("universe.com", Ticketing), ("tickettailor.com", Ticketing), ("feverup.com", Ticketing),
    ("todaytix.com", Ticketing), ("atgtickets.com", Ticketing), ("eventfrog.*", Ticketing),
    ("realmadrid.com", Ticketing),
    // restaurants
    ("opentable.*", Restaurant), ("resy.com", Restaurant), ("exploretock.com", Restaurant),
    ("sevenrooms.com", Restaurant), ("thefork.*", Restaurant), ("lafourchette.com", Restaurant),
    ("quandoo.*", Restaurant), ("zenchef.com", Restaurant), ("covermanager.com", Restaurant),
    ("formitable.com", Restaurant), ("dish.nl", Restaurant), ("restaurantclub.pl", Restaurant),
    ("restoclub.ru", Restaurant), ("restoplace.ru", Restaurant), ("eatapp.co", Restaurant),
    ("tabelog.com", Restaurant), ("hotpepper.jp", Restaurant), ("omakase.in", Restaurant),
    ("dianping.com", Restaurant), ("inline.app", Restaurant), ("eztable.com", Restaurant),
    ("catchtable.co.kr", Restaurant), ("tabling.co.kr", Restaurant),
    ("booking.naver.com", Restaurant), ("eazydiner.com", Restaurant), ("dineout.co.in", Restaurant),
    ("tagme.com.br", Restaurant), ("getin.com.br", Restaurant), ("rezzta.com", Restaurant),
    ("bookatable.com", Restaurant),
    // car rental, car sharing and rides
    ("hertz.*", CarRental), ("avis.*", CarRental), ("budget.*", CarRental),
    ("europcar.*", CarRental), ("sixt.*", CarRental), ("enterprise.*", CarRental),
    ("alamo.com", CarRental), ("nationalcar.com", CarRental), ("thrifty.com", CarRental),
    ("goldcar.es", CarRental), ("centauro.net", CarRental), ("sbc.it", CarRental),
    ("sicilybycar.it", CarRental), ("maggiore.it", CarRental), ("localiza.com", CarRental),
    ("movida.com.br", CarRental), ("unidas.com.br", CarRental), ("panekcs.pl", CarRental),
    ("traficar.pl", CarRental), ("garenta.com.tr", CarRental), ("zoomcar.com", CarRental),
    ("revv.co.in", CarRental), ("mylescars.com", CarRental), ("timescar-rental.jp", CarRental),
    ("nipponrentacar.co.jp", CarRental), ("rent.toyota.co.jp", CarRental), ("zuche.com", CarRental),
    ("1hai.cn", CarRental), ("easyrent.com.tw", CarRental), ("car-plus.com.tw", CarRental),
    ("irentcar.com.tw", CarRental), ("socar.kr", CarRental), ("lotterentacar.net", CarRental),
    ("skcarrental.com", CarRental), ("iyelo.com", CarRental), ("budgetsaudi.com", CarRental),
    ("hertzuae.com", CarRental), ("delimobil.ru", CarRental), ("citydrive.ru", CarRental),
    ("rentmotors.ru", CarRental), ("rentalcars.com", CarRental), ("discovercars.com", CarRental),
    ("ucar.fr", CarRental), ("turo.com", CarRental), ("getaround.com", CarRental),
    ("uber.com", CarRental), ("lyft.com", CarRental), ("bolt.eu", CarRental),
    ("careem.com", CarRental), ("olacabs.com", CarRental),
    // delivery
    ("ups.com", Delivery), ("usps.com", Delivery), ("fedex.com", Delivery), ("dhl.*", Delivery),
    ("dpd.*", Delivery), ("dpd.com.pl", Delivery), ("gls-group.eu", Delivery),
    ("hermesworld.com", Delivery), ("myhermes.de", Delivery), ("postnl.nl", Delivery),
    ("colissimo.fr", Delivery), ("laposte.fr", Delivery), ("correos.es", Delivery),
    ("seur.com", Delivery), ("brt.it", Delivery), ("inpost.pl", Delivery),
    ("yurticikargo.com", Delivery), ("araskargo.com.tr", Delivery), ("cdek.ru", Delivery),
    ("pochta.ru", Delivery), ("aramex.com", Delivery), ("smsaexpress.com", Delivery),
    ("delhivery.com", Delivery), ("bluedart.com", Delivery), ("kuronekoyamato.co.jp", Delivery),
    ("sagawa-exp.co.jp", Delivery), ("japanpost.jp", Delivery), ("sf-express.com", Delivery),
    ("hanjin.co.kr", Delivery), ("cjlogistics.com", Delivery), ("t-cat.com.tw", Delivery),
    ("correios.com.br", Delivery), ("royalmail.com", Delivery), ("canadapost.ca", Delivery),
    ("auspost.com.au", Delivery),
    // retail
    ("amazon.*", Retail), ("ebay.*", Retail), ("zalando.*", Retail), ("otto.de", Retail),
    ("mercadolivre.com.br", Retail), ("mercadolibre.*", Retail), ("allegro.pl", Retail),
    ("trendyol.com", Retail), ("hepsiburada.com", Retail), ("ozon.ru", Retail),
    ("wildberries.ru", Retail), ("noon.com", Retail), ("flipkart.com", Retail),
    ("rakuten.co.jp", Retail), ("jd.com", Retail), ("taobao.com", Retail), ("tmall.com", Retail),
    ("coupang.com", Retail), ("11st.co.kr", Retail), ("gmarket.co.kr", Retail),
    ("shopee.*", Retail), ("momoshop.com.tw", Retail), ("pchome.com.tw", Retail),
    ("bol.com", Retail), ("coolblue.nl", Retail), ("cdiscount.com", Retail),
    ("elcorteingles.es", Retail), ("target.com", Retail), ("walmart.com", Retail),
    ("bestbuy.com", Retail), ("etsy.com", Retail), ("aliexpress.com", Retail), ("temu.com", Retail),
    ("shein.com", Retail), ("ikea.com", Retail),
    // appointments
    ("doctolib.fr", Appointments), ("doctolib.de", Appointments), ("zocdoc.com", Appointments),
    ("treatwell.*", Appointments), ("fresha.com", Appointments), ("znanylekarz.pl", Appointments),
    // recruiting
    ("linkedin.com", Recruiting), ("greenhouse.io", Recruiting), ("lever.co", Recruiting),
    ("myworkday.com", Recruiting), ("smartrecruiters.com", Recruiting), ("icims.com", Recruiting),
    ("jobvite.com", Recruiting), ("ashbyhq.com", Recruiting), ("personio.de", Recruiting),
    ("recruitee.com", Recruiting), ("teamtailor.com", Recruiting), ("workable.com", Recruiting),
    ("stepstone.*", Recruiting), ("indeed.com", Recruiting), ("glassdoor.com", Recruiting),
    ("xing.com", Recruiting), ("welcometothejungle.com", Recruiting), ("infojobs.*", Recruiting),
    ("pracuj.pl", Recruiting), ("justjoin.it", Recruiting), ("kariyer.net", Recruiting),
    ("hh.ru", Recruiting), ("superjob.ru", Recruiting), ("naukri.com", Recruiting),
    ("bayt.com", Recruiting), ("gupy.io", Recruiting), ("catho.com.br", Recruiting),
    ("vagas.com.br", Recruiting), ("bizreach.jp", Recruiting), ("rikunabi.com", Recruiting),
    ("doda.jp", Recruiting), ("wantedly.com", Recruiting), ("zhipin.com", Recruiting),
    ("zhaopin.com", Recruiting), ("liepin.com", Recruiting), ("51job.com", Recruiting),
    ("104.com.tw", Recruiting), ("1111.com.tw", Recruiting), ("cakeresume.com", Recruiting),
    ("saramin.co.kr", Recruiting), ("wanted.co.kr", Recruiting), ("jobkorea.co.kr", Recruiting),
    ("nationalevacaturebank.nl", Recruiting), ("monster.*", Recruiting),
    // work tools
    ("bill.com", WorkTools), ("intuit.com", WorkTools), ("xero.com", WorkTools),
    ("freshbooks.com", WorkTools), ("sevdesk.de", WorkTools), ("lexoffice.de", WorkTools),
    ("pennylane.com", WorkTools), ("holded.com", WorkTools), ("contaazul.com", WorkTools),
    ("fattureincloud.it", WorkTools), ("moneybird.nl", WorkTools), ("infakt.pl", WorkTools),
    ("parasut.com", WorkTools), ("kontur.ru", WorkTools), ("qoyod.com", WorkTools),
    ("zohoinvoice.com", WorkTools), ("freee.co.jp", WorkTools), ("kingdee.com", WorkTools),
    ("einvoice.nat.gov.tw", WorkTools), ("hometax.go.kr", WorkTools), ("docusign.net", WorkTools),
    ("docusign.com", WorkTools), ("zoom.us", WorkTools), ("calendly.com", WorkTools),
    ("slack.com", WorkTools), ("atlassian.com", WorkTools), ("atlassian.net", WorkTools),
    ("asana.com", WorkTools), ("notion.so", WorkTools), ("monday.com", WorkTools),
    // media and mailing lists
    ("substack.com", Media), ("medium.com", Media), ("mcsv.net", Media), ("list-manage.com", Media),
    ("sendgrid.net", Media), ("nytimes.com", Media), ("washingtonpost.com", Media),
    ("theguardian.com", Media), ("bbc.co.uk", Media), ("morningbrew.com", Media),
    ("spiegel.de", Media), ("zeit.de", Media), ("faz.net", Media), ("t3n.de", Media),
    ("heise.de", Media), ("lemonde.fr", Media), ("lefigaro.fr", Media),
    ("courrierinternational.com", Media), ("liberation.fr", Media), ("elpais.es", Media),
    ("elpais.com", Media), ("elmundo.es", Media), ("xataka.com", Media), ("folha.com.br", Media),
    ("publico.pt", Media), ("nexojornal.com.br", Media), ("ilpost.it", Media),
    ("corriere.it", Media), ("repubblica.it", Media), ("wired.it", Media), ("nrc.nl", Media),
    ("volkskrant.nl", Media), ("tweakers.net", Media), ("decorrespondent.nl", Media),
    ("wyborcza.pl", Media), ("spidersweb.pl", Media), ("niebezpiecznik.pl", Media),
    ("hurriyet.com.tr", Media), ("webrazzi.com", Media), ("meduza.io", Media), ("habr.com", Media),
    ("vc.ru", Media), ("aawsat.com", Media), ("skynewsarabia.com", Media), ("arabi21.com", Media),
    ("aljazeera.net", Media), ("bhaskar.com", Media), ("thehindu.co.in", Media),
    ("inc42.com", Media), ("nikkei.com", Media), ("itmedia.co.jp", Media),
    ("toyokeizai.net", Media), ("36kr.com", Media), ("caixin.com", Media), ("sspai.com", Media),
    ("cw.com.tw", Media), ("bnext.com.tw", Media), ("twreporter.org", Media), ("newneek.co", Media),
    ("chosun.com", Media), ("yozm.wishket.com", Media),
    // social networks
    ("facebookmail.com", Social), ("instagram.com", Social), ("twitter.com", Social),
    ("x.com", Social), ("vk.com", Social), ("ok.ru", Social), ("weibo.com", Social),
    ("pinterest.com", Social), ("tiktok.com", Social), ("reddit.com", Social),
    ("quora.com", Social), ("nextdoor.com", Social), ("snapchat.com", Social),
    // accounts, payments, security
    ("accounts.google.com", Accounts), ("paypal.*", Accounts), ("alipay.com", Accounts),
    ("mail.alipay.com", Accounts), ("wechatpay.com", Accounts), ("kakaocorp.com", Accounts),
    ("toss.im", Accounts), ("nubank.com.br", Accounts), ("revolut.com", Accounts),
    ("n26.com", Accounts), ("wise.com", Accounts), ("chase.com", Accounts),
    ("sparkasse.de", Accounts),
];

/// Free personal-mail domains (webmail and the consumer mail of ISPs and carriers), per
/// market; suffix-matched (`ms1.hinet.net`).
#[rustfmt::skip]
pub(super) const PERSONAL_DOMAINS: &[&str] = &[
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.fr", "yahoo.es", "yahoo.de", "yahoo.co.uk",
    "yahoo.it", "yahoo.co.jp", "yahoo.com.tw", "yahoo.co.in", "yahoo.in", "yahoo.com.br",
    "ymail.com", "hotmail.com", "hotmail.fr", "hotmail.es", "hotmail.it", "hotmail.nl",
    "hotmail.com.tr", "outlook.com", "outlook.de", "outlook.fr", "outlook.es", "outlook.com.tr",
    "outlook.sa", "live.com", "live.nl", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com",
    "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "proton.me", "protonmail.com",
    "fastmail.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "t-online.de", "freenet.de",
    "orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr", "telefonica.net", "movistar.es",
    "libero.it", "virgilio.it", "alice.it", "tiscali.it", "tin.it", "uol.com.br", "bol.com.br",
    "terra.com.br", "ig.com.br", "globo.com", "sapo.pt", "ziggo.nl", "kpnmail.nl", "planet.nl",
    "home.nl", "xs4all.nl", "telenet.be", "skynet.be", "wp.pl", "o2.pl", "onet.pl", "op.pl",
    "interia.pl", "gazeta.pl", "mynet.com", "yandex.com.tr", "mail.ru", "bk.ru", "list.ru",
    "inbox.ru", "yandex.ru", "yandex.com", "ya.ru", "rambler.ru", "rediffmail.com", "naver.com",
    "daum.net", "hanmail.net", "nate.com", "kakao.com", "qq.com", "163.com", "126.com", "yeah.net",
    "sina.com", "sina.cn", "sohu.com", "foxmail.com", "139.com", "aliyun.com", "docomo.ne.jp",
    "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp", "hinet.net", "netvigator.com",
    "seznam.cz",
];

/// Local parts that mark bulk mail.
#[rustfmt::skip]
pub(super) const BULK_LOCAL: &[&str] = &[
    "newsletter", "newsletters", "news", "marketing", "deals", "offers", "promo", "promotions",
    "angebote", "info", "hello", "digest", "nieuwsbrief", "bulten", "boletin", "edm", "ofertas",
    "kampanya",
];

/// Local parts (or their first word) of role and machine addresses: mail from them is not
/// one person writing to another.
#[rustfmt::skip]
pub(super) const ROLE_LOCAL: &[&str] = &[
    "noreply", "no-reply", "no", "donotreply", "do-not-reply", "info", "service", "support",
    "orders", "order", "receipts", "travel", "news", "newsletter", "hello", "team", "booking",
    "bookings", "reservations", "reservas", "reservierung", "tickets", "notifications",
    "notification", "mailer", "alerts", "billing", "accounts", "contact", "sales", "marketing",
    "deals", "offers", "promo", "admin", "help", "auto-confirm", "ship-confirm", "bounce",
    "frontdesk", "stay", "vermietung", "termine", "buchung", "crew", "customer_support",
    "messages-noreply", "automated", "jobs", "careers", "hr", "office", "mail", "digest",
    "powiadomienia", "bildirim", "bilgi", "avisos", "comunicado", "servizio", "kundenservice",
    "service-client", "rezerwacje", "rezervasyon", "prenotazioni", "reserveringen",
];

/// Words of a display name that name an organisation, not a person (`PKO Bank Polski`,
/// `Hilton Honors`, `Customer Service`).
#[rustfmt::skip]
pub(super) const ORG_WORDS: &[&str] = &[
    "bank", "banco", "banque", "banca", "hotel", "hotels", "airlines", "airline", "airways",
    "team", "service", "services", "support", "shop", "store", "group", "gruppe", "grupo", "news",
    "info", "club", "travel", "tours", "tickets", "ticket", "customer", "kundenservice", "official",
    "honors", "rewards", "app", "online", "mail", "inc", "ltd", "gmbh", "llc",
];

/// True when `domain` is `suffix` or one of its subdomains; `brand.*` matches the brand's
/// label followed by a public suffix of one or two short labels (`amazon.co.jp`). This is the
/// rule; [`Index`] answers it for a whole table at once.
#[cfg(test)]
pub(super) fn domain_matches(domain: &str, suffix: &str) -> bool {
    if let Some(brand) = suffix.strip_suffix(".*") {
        let labels: Vec<&str> = domain.split('.').collect();
        return labels.iter().enumerate().any(|(i, l)| {
            *l == brand && {
                let rest = &labels[i + 1..];
                (1..=2).contains(&rest.len())
                    && rest.iter().all(|t| (2..=3).contains(&t.len()))
                    && rest.last().is_some_and(|t| t.len() <= 3)
            }
        });
    }
    domain == suffix
        || (domain.ends_with(suffix) && domain.as_bytes()[domain.len() - suffix.len() - 1] == b'.')
}

/// A table of entries (`example.com`, `brand.*`) as two maps to the index of the first entry
/// of each name, so that the first entry a domain matches is found with a few lookups (the
/// domain and each of its parent domains; the labels that can be a brand before a short public
/// suffix) instead of a scan of the whole table.
struct Index {
    exact: HashMap<&'static str, usize>,
    brands: HashMap<&'static str, usize>,
}

impl Index {
    fn new<'a>(entries: impl Iterator<Item = &'a &'static str>) -> Self {
        let (mut exact, mut brands) = (HashMap::new(), HashMap::new());
        for (i, &e) in entries.enumerate() {
            match e.strip_suffix(".*") {
                Some(brand) => brands.entry(brand).or_insert(i),
                None => exact.entry(e).or_insert(i),
            };
        }
        Self { exact, brands }
    }

    /// The index of the first entry `domain` matches.
    fn first(&self, domain: &str) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut see = |i: Option<&usize>| {
            if let Some(&i) = i {
                best = Some(best.map_or(i, |b| b.min(i)));
            }
        };
        let mut rest = domain;
        loop {
            see(self.exact.get(rest));
            match rest.find('.') {
                Some(dot) => rest = &rest[dot + 1..],
                None => break,
            }
        }
        // A brand is followed by one or two labels of two or three characters.
        let labels: Vec<&str> = domain.rsplitn(4, '.').collect();
        for n in 1..=2 {
            if labels.len() > n && labels[..n].iter().all(|t| (2..=3).contains(&t.len())) {
                see(self.brands.get(labels[n]));
            }
        }
        best
    }
}

static GROUPS: LazyLock<Index> = LazyLock::new(|| Index::new(DOMAINS.iter().map(|(d, _)| d)));
static PERSONAL: LazyLock<Index> = LazyLock::new(|| Index::new(PERSONAL_DOMAINS.iter()));

/// The group of a sending domain, if the table knows it (its first matching entry).
pub(super) fn group(domain: &str) -> Option<Group> {
    GROUPS.first(domain).map(|i| DOMAINS[i].1)
}

/// True for a free personal-mail domain.
pub(super) fn personal(domain: &str) -> bool {
    PERSONAL.first(domain).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(domain_matches("mail.united.com", "united.com"));
        assert!(!domain_matches("notunited.com", "united.com"));
        assert!(domain_matches(
            "email.ticketmaster.com.br",
            "ticketmaster.*"
        ));
        assert!(domain_matches("amazon.co.jp", "amazon.*"));
        assert!(!domain_matches("amazon.example.org", "amazon.*"));
        assert_eq!(group("h4.hilton.com"), Some(Hotel));
        assert_eq!(group("shipment-tracking.amazon.de"), Some(Retail));
        assert_eq!(group("example.org"), None);
        assert!(personal("ms1.hinet.net") && personal("naver.com") && !personal("acme.io"));
    }

    /// The index finds, for any domain, the first entry the rule matches.
    #[test]
    fn index_agrees_with_the_rule() {
        let scan = |d: &str| {
            DOMAINS
                .iter()
                .find(|(e, _)| domain_matches(d, e))
                .map(|e| e.1)
        };
        let personal_scan = |d: &str| PERSONAL_DOMAINS.iter().any(|e| domain_matches(d, e));
        let mut domains: Vec<String> = vec![
            "".into(),
            ".".into(),
            "com".into(),
            "a..b".into(),
            "x.amazon.co.jp".into(),
            "amazon.co.jp.evil.org".into(),
            "amazon.c.jp".into(),
            "amazon.com.abcd".into(),
            "booking.com.br.x".into(),
        ];
        for (e, _) in DOMAINS {
            for d in [e.to_string(), format!("mail.{e}"), format!("x{e}")] {
                domains.push(d.replace(".*", ".com"));
                domains.push(d.replace(".*", ".co.uk"));
                domains.push(d.replace(".*", ".com.br.example"));
                domains.push(d.replace(".*", ""));
            }
        }
        for e in PERSONAL_DOMAINS {
            domains.extend([e.to_string(), format!("ms1.{e}"), format!("x{e}")]);
        }
        for d in &domains {
            assert_eq!(group(d), scan(d), "{d}");
            assert_eq!(personal(d), personal_scan(d), "{d}");
        }
    }

    #[test]
    fn hundreds_of_unique_entries() {
        assert!(DOMAINS.len() >= 300, "{}", DOMAINS.len());
        let mut seen = std::collections::HashSet::new();
        for (d, _) in DOMAINS {
            assert!(seen.insert(*d), "duplicate {d}");
            assert_eq!(d.to_lowercase(), *d);
        }
    }
}
